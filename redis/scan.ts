import type { Redis } from "ioredis";
import type { KeyValueScanDriver, ScanEntry, ScanOptions } from "../sdk/drivers/interfaces";
import { Code, PrismError } from "../sdk/grpc/errors";
import type { RedisContext } from "./context";
import { decodeCursor, encodeCursor, type ScanPosition } from "./cursor";

/** Escapes glob metacharacters so that a prefix matches literally in SCAN MATCH. */
export function escapeGlob(s: string): string {
  return s.replace(/[*?[\]\\]/g, "\\$&");
}

/** One SCAN batch, reduced to the namespace's keys in ascending order without duplicates. */
interface Batch {
  next: string;
  keys: string[];
}

/**
 * Scan and Count over SCAN ... MATCH <prefix>* COUNT n TYPE string, never KEYS: on the one server, or on every
 * cluster master in address order. TYPE string keeps list keys out, as they are not key-value entries.
 * Paging: see ScanPosition. Like SCAN itself, a key can come twice if Redis resizes its table mid-scan.
 */
export class RedisScan implements KeyValueScanDriver {
  constructor(
    private readonly ctx: RedisContext,
    private readonly scanCount: number,
  ) {}

  async *scan(opts: ScanOptions): AsyncIterable<ScanEntry> {
    const start = opts.cursor ? decodeCursor(opts.cursor) : undefined;
    const masters = this.mastersFrom(start);
    // Small pages use small batches: a page cut inside a batch re-reads that batch's head on the next page.
    const count = start?.count ?? (opts.limit > 0 ? Math.min(this.scanCount, Math.max(16, opts.limit)) : this.scanCount);
    const match = `${escapeGlob(this.ctx.prefix + opts.prefix)}*`;
    let emitted = 0;
    // The page's last entry, held back until another entry shows whether a next page exists.
    let held: ScanEntry | undefined;
    for (let i = masters.index; i < masters.nodes.length; i++) {
      const node = masters.nodes[i]!;
      const nodeId = masters.ids[i]!;
      let redisCursor = i === masters.index && start ? start.redisCursor : "0";
      let after = i === masters.index ? start?.after : undefined;
      do {
        opts.signal.throwIfAborted();
        const batch = await this.batch(node, redisCursor, match, count, after, opts.signal);
        const values = opts.withValues && batch.keys.length > 0 ? await this.values(node, batch.keys, opts.signal) : undefined;
        let previous = after;
        for (let j = 0; j < batch.keys.length; j++) {
          const key = batch.keys[j]!;
          const value = values?.[j];
          if (values && !value) {
            previous = key; // deleted since SCAN saw it
            continue;
          }
          if (held) {
            held.nextCursor = encodeCursor({ node: nodeId, redisCursor, count, after: previous });
            yield held;
            return;
          }
          const entry: ScanEntry = value ? { key, value } : { key };
          if (opts.limit > 0 && ++emitted === opts.limit) held = entry;
          else yield entry;
          previous = key;
        }
        after = undefined;
        redisCursor = batch.next;
      } while (redisCursor !== "0");
    }
    if (held) yield held;
  }

  async count(prefix: string): Promise<number> {
    const match = `${escapeGlob(this.ctx.prefix + prefix)}*`;
    let total = 0;
    for (const node of this.mastersFrom(undefined).nodes) {
      let redisCursor = "0";
      do {
        const batch = await this.batch(node, redisCursor, match, this.scanCount, undefined);
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
    if (index < 0) throw new PrismError(Code.FAILED_PRECONDITION, `cursor refers to ${start!.node}, no longer a master of the cluster; scan again from the start`);
    return { nodes, ids, index };
  }

  private async batch(node: Redis, redisCursor: string, match: string, count: number, after: string | undefined, signal?: AbortSignal): Promise<Batch> {
    const [next, raw] = await this.ctx.guard.read(() => node.scan(redisCursor, "MATCH", match, "COUNT", count, "TYPE", "string"), signal);
    const cut = this.ctx.prefix.length;
    const keys = raw.map((k) => k.slice(cut)).sort();
    const out: string[] = [];
    for (const k of keys) {
      if ((after === undefined || k > after) && k !== out[out.length - 1]) out.push(k);
    }
    return { next, keys: out };
  }

  private values(node: Redis, keys: string[], signal: AbortSignal): Promise<(Buffer | null)[]> {
    const p = this.ctx.prefix;
    return this.ctx.guard.read(async () => {
      if (!this.ctx.cluster) return node.mgetBuffer(keys.map((k) => p + k));
      // A cluster node refuses multi-key commands across slots; single-key GETs in one pipeline are one round trip.
      const pipe = node.pipeline();
      for (const k of keys) pipe.getBuffer(p + k);
      const replies = (await pipe.exec()) ?? [];
      return replies.map(([err, v]) => {
        if (err) throw err;
        return v as Buffer | null;
      });
    }, signal);
  }
}
