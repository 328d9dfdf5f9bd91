import {
  type QueueConsumeOptions,
  Wakers,
  type QueueDelivery,
  type QueueDriver,
  type QueueFeatures,
  type QueuePublished,
  type QueuePublishMessage,
  type QueueStats,
} from "@prism/sdk";
import type { RedisContext } from "./context";

/** Pause between empty polls: short after a delivery, growing to the maximum while idle (bounded latency). */
const POLL_MIN_MS = 10;
const POLL_MAX_MS = 200;
/** Idle time given to a nacked entry due now, so the next XAUTOCLAIM takes it whatever its ack deadline. */
const IDLE_DUE_MS = 2 ** 40;

type Reply = Buffer | string | number | null | Reply[];
const str = (v: Reply | undefined) => (v === undefined || v === null ? "" : Buffer.isBuffer(v) ? v.toString("utf8") : String(v));

/** Fields of one stream entry as a map. */
function fields(flat: Reply[]): Map<string, Buffer> {
  const m = new Map<string, Buffer>();
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const v = flat[i + 1]!;
    m.set(str(flat[i]), Buffer.isBuffer(v) ? v : Buffer.from(str(v)));
  }
  return m;
}

/** Stream commands answering Buffers (present at runtime on every ioredis client, missing from some typings). */
interface BufferStreamCommands {
  xclaimBuffer(key: string, group: string, consumer: string, minIdle: number, ...ids: string[]): Promise<Reply>;
  xautoclaimBuffer(key: string, group: string, consumer: string, minIdle: number, start: string, count: "COUNT", n: number): Promise<Reply>;
}
const buffers = (client: unknown) => client as BufferStreamCommands;

interface Entry {
  id: string;
  f: Map<string, Buffer>;
}

/**
 * Queues on Redis Streams (QueueDriver). A topic is one stream, `<prefix>queue:{<topic>}` (the hash tag keeps a
 * topic's keys on one cluster slot); a consumer group is a stream consumer group created at the stream's start, so
 * a new group sees every retained message. Deliveries: XREADGROUP for new entries, XAUTOCLAIM for entries idle past
 * the consumer's ack deadline (their delivery count is the attempt, read with XPENDING), XACK to ack. A nack with a
 * delay keeps the entry pending with its idle time reset and puts it in a sorted set by due time; a consumer claims
 * due entries from there (XCLAIM) first; a nack without delay sets the entry's idle time so high that the next
 * XAUTOCLAIM takes it. The last error of a nack is kept in a hash per group until the message is acked.
 * Dead letters are not a Redis feature: the pattern emulates them in this driver's key-value (QueueDeadLetterDriver).
 * Streams are not trimmed: an operator trims them (XTRIM) below what every group has acked.
 * Waiting for new entries is polling (no blocking read on the shared, pipelined command connection), woken at
 * once by publishes through this process.
 */
export class RedisQueue implements QueueDriver {
  readonly queueFeatures: QueueFeatures = {
    ordering: "none",
    batch: "native",
    durable: true,
    maxMessageSize: 64 * 1024 * 1024,
    durableStats: false,
  };
  private readonly groups = new Set<string>();
  private readonly wakers = new Wakers();

  constructor(private readonly ctx: RedisContext) {}

  private stream(topic: string): string {
    return `${this.ctx.prefix}queue:{${topic}}`;
  }
  private delayedKey(topic: string, group: string): string {
    return `${this.stream(topic)}:delayed:${group}`;
  }
  private errorsKey(topic: string, group: string): string {
    return `${this.stream(topic)}:errors:${group}`;
  }

  async queuePublish(topic: string, messages: QueuePublishMessage[]): Promise<QueuePublished[]> {
    const { client } = this.ctx.conn;
    const key = this.stream(topic);
    const now = String(Date.now());
    const ids = await this.ctx.write(async () => {
      const p = client.pipeline();
      for (const m of messages) p.xadd(key, "*", "k", m.key, "h", JSON.stringify(m.headers), "t", now, "p", Buffer.from(m.payload));
      const res = (await p.exec()) ?? [];
      return res.map(([err, id]) => {
        if (err) throw err;
        return String(id);
      });
    });
    this.wakers.wake(key);
    return ids.map((messageId) => ({ messageId, duplicate: false }));
  }

  async *queueConsume(opts: QueueConsumeOptions): AsyncIterable<QueueDelivery> {
    const { topic, group, signal } = opts;
    const key = this.stream(topic);
    const poller = this.wakers.poller(key);
    let pause = POLL_MIN_MS;
    let buffered: QueueDelivery[] = [];
    const cursor = { at: "0-0" };
    try {
      while (!signal.aborted) {
        let batch: QueueDelivery[] = [];
        try {
          await this.ensureGroup(topic, group);
          batch = await this.fetch(opts, Math.max(1, opts.room()), cursor);
        } catch {
          // Redis unreachable or failing: keep the stream open and try again (the driver metrics record the error).
          pause = POLL_MAX_MS;
        }
        if (batch.length > 0) {
          pause = POLL_MIN_MS;
          buffered = batch;
          while (buffered.length > 0) {
            const d = buffered.shift()!;
            yield d;
          }
          continue;
        }
        await poller.sleep(pause, signal);
        pause = Math.min(POLL_MAX_MS, pause * 2);
      }
    } finally {
      poller.close();
      // Claimed but never handed out: give them back at once.
      for (const d of buffered) await this.queueNack(topic, group, d.token, 0, "").catch(() => undefined);
    }
  }

  /** Up to `count` deliveries: nacked entries now due, then entries past their ack deadline, then new ones. */
  private async fetch(opts: QueueConsumeOptions, count: number, cursor: { at: string }): Promise<QueueDelivery[]> {
    const { client } = this.ctx.conn;
    const { topic, group, consumerId } = opts;
    const key = this.stream(topic);
    const out: QueueDelivery[] = [];
    const due = (await this.ctx.guard.read(() => client.zrangebyscore(this.delayedKey(topic, group), "-inf", Date.now(), "LIMIT", 0, count))) as string[];
    if (due.length > 0) {
      const claimed = await this.ctx.write(async () => {
        const removed = await client.zrem(this.delayedKey(topic, group), ...due);
        if (removed === 0) return [] as Reply[];
        return (await buffers(client).xclaimBuffer(key, group, consumerId, 0, ...due)) as Reply[];
      });
      out.push(...(await this.deliveries(topic, group, entries(claimed), true)));
    }
    if (out.length < count) {
      const r = (await this.ctx.write(() =>
        buffers(client).xautoclaimBuffer(key, group, consumerId, opts.ackDeadlineMs, cursor.at, "COUNT", count - out.length),
      )) as Reply[];
      // XAUTOCLAIM examines a bounded part of the pending list per call: continue where it stopped next time.
      cursor.at = str(r[0]) || "0-0";
      out.push(...(await this.deliveries(topic, group, entries(r[1] as Reply[]), true)));
    }
    if (out.length < count) {
      const r = (await this.ctx.write(() => client.xreadgroupBuffer("GROUP", group, consumerId, "COUNT", count - out.length, "STREAMS", key, ">"))) as
        | Reply[]
        | null;
      if (r) {
        const streams = (Buffer.isBuffer(r[0]) ? [r] : r) as Reply[][];
        for (const s of streams) out.push(...(await this.deliveries(topic, group, entries(s[1] as Reply[]), false)));
      }
    }
    return out;
  }

  /** Deliveries of claimed entries; for redeliveries, with their delivery counts and last errors. */
  private async deliveries(topic: string, group: string, list: Entry[], redelivered: boolean): Promise<QueueDelivery[]> {
    if (list.length === 0) return [];
    const attempts = new Map<string, number>();
    const errors = new Map<string, string>();
    if (redelivered) {
      const { client } = this.ctx.conn;
      const key = this.stream(topic);
      const res = await this.ctx.guard.read(async () => {
        const p = client.pipeline();
        for (const e of list) p.xpending(key, group, e.id, e.id, 1);
        p.hmget(this.errorsKey(topic, group), ...list.map((e) => e.id));
        // Taken past its ack deadline while a nack delay was pending: it is delivered now, not again when due.
        p.zrem(this.delayedKey(topic, group), ...list.map((e) => e.id));
        return (await p.exec()) ?? [];
      });
      list.forEach((e, i) => {
        const row = (res[i]?.[1] as Reply[] | undefined)?.[0] as Reply[] | undefined;
        attempts.set(e.id, Number(row?.[3] ?? 1));
      });
      const errs = (res[list.length]?.[1] as (string | null)[] | undefined) ?? [];
      list.forEach((e, i) => errors.set(e.id, errs[i] ?? ""));
    }
    return list.map((e) => ({
      messageId: e.id,
      key: str(e.f.get("k")),
      payload: new Uint8Array(e.f.get("p") ?? Buffer.alloc(0)),
      headers: parseHeaders(e.f.get("h")),
      publishedAt: Number(str(e.f.get("t"))) || 0,
      attempt: attempts.get(e.id) ?? 1,
      token: e.id,
      lastError: errors.get(e.id) ?? "",
    }));
  }

  async queueAck(topic: string, group: string, tokens: string[]): Promise<boolean[]> {
    const { client } = this.ctx.conn;
    const key = this.stream(topic);
    const valid = tokens.map(isStreamId);
    const ids = tokens.filter((_, i) => valid[i]);
    if (ids.length === 0) return tokens.map(() => false);
    const res = await this.ctx.write(async () => {
      const p = client.pipeline();
      for (const id of ids) p.xack(key, group, id);
      p.hdel(this.errorsKey(topic, group), ...ids);
      p.zrem(this.delayedKey(topic, group), ...ids);
      return (await p.exec()) ?? [];
    });
    let j = 0;
    return valid.map((ok) => ok && Number(res[j++]?.[1] ?? 0) === 1);
  }

  async queueNack(topic: string, group: string, token: string, redeliverAfterMs: number, error: string): Promise<boolean> {
    if (!isStreamId(token)) return false;
    const { client } = this.ctx.conn;
    const key = this.stream(topic);
    return this.ctx.write(async () => {
      const idle = redeliverAfterMs > 0 ? 0 : IDLE_DUE_MS;
      const claimed = (await client.call("XCLAIM", key, group, "nacked", "0", token, "IDLE", String(idle), "JUSTID")) as string[];
      if (claimed.length === 0) return false;
      const p = client.pipeline();
      if (error !== "") p.hset(this.errorsKey(topic, group), token, error);
      if (redeliverAfterMs > 0) p.zadd(this.delayedKey(topic, group), Date.now() + redeliverAfterMs, token);
      await p.exec();
      this.wakers.wake(key);
      return true;
    });
  }

  async queueStats(topic: string, group: string): Promise<QueueStats> {
    const { client } = this.ctx.conn;
    await this.ensureGroup(topic, group);
    const [info, delayed] = await this.ctx.guard.read(async () => {
      const p = client.pipeline();
      p.call("XINFO", "GROUPS", this.stream(topic));
      p.zcard(this.delayedKey(topic, group));
      const r = (await p.exec()) ?? [];
      return [r[0]?.[1] as Reply[][], Number(r[1]?.[1] ?? 0)] as const;
    });
    const row = info.find((g) => str(fields(g).get("name")) === group);
    const f = row ? fields(row) : new Map<string, Buffer>();
    const pel = Number(str(f.get("pending")) || 0);
    const lag = Number(str(f.get("lag")) || 0);
    return { pending: lag + delayed, inFlight: Math.max(0, pel - delayed) };
  }

  private async ensureGroup(topic: string, group: string): Promise<void> {
    const key = this.stream(topic);
    const k = `${key}\0${group}`;
    if (this.groups.has(k)) return;
    const { client } = this.ctx.conn;
    await this.ctx.write(async () => {
      try {
        await client.call("XGROUP", "CREATE", key, group, "0", "MKSTREAM");
      } catch (err) {
        if (!String(err).includes("BUSYGROUP")) throw err;
      }
    });
    if (this.groups.size < 10_000) this.groups.add(k);
  }
}

function entries(list: Reply[] | undefined): Entry[] {
  const out: Entry[] = [];
  for (const e of list ?? []) {
    const pair = e as Reply[];
    // A deleted entry comes back with nil fields.
    if (!Array.isArray(pair) || !Array.isArray(pair[1])) continue;
    out.push({ id: str(pair[0]), f: fields(pair[1] as Reply[]) });
  }
  return out;
}

function parseHeaders(raw: Buffer | undefined): Record<string, string> {
  if (!raw) return {};
  try {
    return JSON.parse(raw.toString("utf8")) as Record<string, string>;
  } catch {
    return {};
  }
}

const isStreamId = (s: string) => /^\d+-\d+$/.test(s);
