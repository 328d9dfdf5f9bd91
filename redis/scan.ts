import { splitTags } from "./tags";
import type { Redis } from "ioredis";
import { Code, PrismError, type KeyValueScanDriver, type ScanEntry, type ScanOptions } from "@prism/sdk";
import type { RedisContext } from "./context";
import { CursorCodec, type ScanPosition } from "./cursor";

/** Escapes glob metacharacters so that a prefix matches literally in SCAN MATCH. */
export function escapeGlob(s: string): string {
  return s.replace(/[*?[\]\\]/g, "\\$&");
}

/** Smallest COUNT of a paged scan: below it, sparse namespaces cost too many round trips per page. */
const MIN_PAGE_COUNT = 64;

/**
 * Scan and Count over SCAN ... MATCH <prefix>* COUNT n TYPE string, never KEYS: on the one server, or on every
 * cluster master in address order. TYPE string keeps list keys out, as they are not key-value entries.
 * Paging: see ScanPosition. As with SCAN itself, a key present for the whole scan is returned, and returned
 * once unless Redis shrinks its table mid-scan (the one case where SCAN repeats keys).
 */
export class RedisScan implements KeyValueScanDriver {
  private readonly cursors: CursorCodec;

  /** `cursorSecret` signs cursors (cursor_secret); without one a random per-process secret is used. */
  constructor(
    private readonly ctx: RedisContext,
    private readonly scanCount: number,
    cursorSecret?: string,
  ) {
    this.cursors = new CursorCodec(ctx.prefix, cursorSecret);
  }

  async *scan(opts: ScanOptions): AsyncIterable<ScanEntry> {
    const start = opts.cursor ? this.cursors.decode(opts.cursor) : undefined;
    const masters = this.mastersFrom(start);
    // A page cut inside a batch carries the batch's rest in its cursor: keep batches near the page size.
    // A cursor is client-held text, so its COUNT is capped: a forged huge one would make one SCAN walk the
    // whole keyspace, blocking Redis for every namespace.
    const count = start
      ? Math.min(start.count, this.scanCount)
      : opts.limit > 0
        ? Math.min(this.scanCount, Math.max(MIN_PAGE_COUNT, opts.limit))
        : this.scanCount;
    const match = `${escapeGlob(this.ctx.prefix + opts.prefix)}*`;
    let nodeIndex = masters.index;
    let redisCursor = start?.redisCursor ?? "0";
    let nodeDone = start !== undefined && redisCursor === "0";
    // Keys of the current batch not returned yet; those from a cursor may have been deleted since.
    let queue = start?.pending ?? [];
    let verify = start !== undefined;
    let remaining = opts.limit > 0 ? opts.limit : Infinity;
    // The page's last entry, held back until we know whether another page follows.
    let held: ScanEntry | undefined;
    for (;;) {
      opts.signal.throwIfAborted();
      if (queue.length > 0) {
        if (held) break;
        const chunk = queue.splice(0, Math.min(remaining, queue.length));
        const entries = await this.present(masters.nodes[nodeIndex]!, chunk, opts.withValues, verify, opts.signal);
        for (const e of entries) {
          if (--remaining === 0) held = e;
          else yield e;
        }
        continue;
      }
      verify = false;
      if (nodeDone) {
        if (++nodeIndex >= masters.nodes.length) break;
        redisCursor = "0";
        nodeDone = false;
      }
      const batch = await this.batch(masters.nodes[nodeIndex]!, redisCursor, match, count, opts.signal);
      redisCursor = batch.next;
      nodeDone = batch.next === "0";
      queue = batch.keys;
    }
    if (held) {
      if (queue.length > 0) held.nextCursor = this.cursors.encode({ node: masters.ids[nodeIndex]!, redisCursor, count, pending: queue });
      yield held;
    }
  }

  async count(prefix: string): Promise<number> {
    const match = `${escapeGlob(this.ctx.prefix + prefix)}*`;
    let total = 0;
    for (const node of this.mastersFrom(undefined).nodes) {
      let redisCursor = "0";
      do {
        const batch = await this.batch(node, redisCursor, match, this.scanCount);
        total += batch.keys.length;
        redisCursor = batch.next;
      } while (redisCursor !== "0");
    }
    return total;
  }

  private mastersFrom(start: ScanPosition | undefined): { nodes: Redis[]; ids: string[]; index: number } {
    const nodes = this.ctx.conn.masters();
    if (nodes.length === 0) throw new PrismError(Code.UNAVAILABLE, "redis cluster has no reachable master");
    const ids = this.ctx.cluster ? nodes.map((n) => `${n.options.host}:${n.options.port}`) : [""];
    const index = start ? ids.indexOf(start.node) : 0;
    if (index < 0) {
      throw new PrismError(Code.FAILED_PRECONDITION, `cursor refers to ${start!.node}, no longer a master of the cluster; scan again from the start`);
    }
    return { nodes, ids, index };
  }

  /** One SCAN batch: the namespace's keys (prefix stripped), sorted, without duplicates. */
  private async batch(node: Redis, redisCursor: string, match: string, count: number, signal?: AbortSignal): Promise<{ next: string; keys: string[] }> {
    const [next, raw] = await this.ctx.guard.read(() => node.scan(redisCursor, "MATCH", match, "COUNT", count, "TYPE", "string"), signal);
    const cut = this.ctx.prefix.length;
    const sorted = raw.map((k) => k.slice(cut)).sort();
    const keys = sorted.filter((k, i) => i === 0 || k !== sorted[i - 1]);
    return { next, keys };
  }

  /**
   * The entries for these keys, skipping keys gone since SCAN saw them: values come from one MGET (one
   * pipeline of GETs on a cluster node, which refuses multi-key commands across slots); keys-only entries are
   * checked with EXISTS only when they come from a cursor, as a fresh SCAN batch is current anyway.
   */
  private async present(node: Redis, keys: string[], withValues: boolean, verify: boolean, signal: AbortSignal): Promise<ScanEntry[]> {
    if (!withValues && !verify) return keys.map((key) => ({ key }));
    const p = this.ctx.prefix;
    const replies = await this.ctx.guard.read(async () => {
      if (withValues && !this.ctx.cluster) return node.mgetBuffer(keys.map((k) => p + k));
      const pipe = node.pipeline();
      for (const k of keys) withValues ? pipe.getBuffer(p + k) : pipe.exists(p + k);
      return ((await pipe.exec()) ?? []).map(([err, v]) => {
        if (err) throw err;
        return v as Buffer | number | null;
      });
    }, signal);
    const out: ScanEntry[] = [];
    for (let i = 0; i < keys.length; i++) {
      const v = replies[i];
      if (v === null || v === 0 || v === undefined) continue;
      if (!withValues) {
        out.push({ key: keys[i]! });
        continue;
      }
      const { value, tags } = splitTags(v as Buffer);
      out.push(tags ? { key: keys[i]!, value, tags } : { key: keys[i]!, value });
    }
    return out;
  }
}
