import { invalidArgument, type StreamDriver, type StreamReadOptions, type StreamRecordData, type WriteOptions } from "@prism/sdk";
import type { RedisClient } from "./connection";
import { asBuffer, type RedisContext } from "./context";
import { redisError } from "./errors";
import { markerKey } from "./kv";

/** Bytes one XRANGE page aims at: the page's record count is this over the largest record seen so far. */
const PAGE_BYTES = 4 << 20;
const MAX_PAGE = 256;
/** How long one blocking XREAD of a following Read waits before it looks again (an abort ends it at once). */
const BLOCK_MS = 5_000;

/**
 * Streams on Redis Streams, one partition (0) per stream. Entry ids are `0-<offset>`: XADD `0-*` numbers them
 * 1, 2, 3… and never reuses a number, trimmed or not (Redis keeps the stream's last id), so an offset maps to an id
 * with no lookup. Each entry holds its timestamp (`t`, Redis's clock in ms, raised to the last entry's so it never
 * goes back within a stream), key (`k`), metadata (`m`, JSON) and payload (`p`). Read is XRANGE pages; a
 * following Read waits with XREAD BLOCK on a connection of its own. Trim is XTRIM MINID. A read from a time finds
 * its first offset with a binary search in a script (entries are in time order).
 */
export class RedisStreams implements StreamDriver {
  constructor(private readonly ctx: RedisContext) {}

  async append(
    stream: string,
    payload: Uint8Array,
    metadata: Record<string, string>,
    key: string,
    write?: WriteOptions,
  ): Promise<{ offset: number; partition: number; timestamp: number }> {
    const { client } = this.ctx.conn;
    const k = this.ctx.prefix + stream;
    const keys = write?.idempotencyKey ? [k, markerKey(k, write.idempotencyKey)] : [k];
    const meta = Object.keys(metadata).length ? JSON.stringify(metadata) : "";
    const reply = (await this.ctx.write(() => client.eval(APPEND, keys.length, ...keys, asBuffer(payload), key, meta, write?.windowMs ?? 0))) as string;
    const [offset, timestamp] = reply.split(":").map(Number) as [number, number];
    return { offset, partition: 0, timestamp };
  }

  async *read(opts: StreamReadOptions): AsyncGenerator<StreamRecordData> {
    if (opts.partition !== 0) throw invalidArgument(`Redis streams have one partition, 0 (asked for ${opts.partition})`);
    const { client } = this.ctx.conn;
    const { stream, maxRecords, follow, signal } = opts;
    const k = this.ctx.prefix + stream;
    let next = opts.fromOffset;
    if (opts.fromTimestamp > 0) {
      next = Number(await this.ctx.guard.read(() => client.eval(OFFSET_AT_TIME, 1, k, opts.fromTimestamp) as Promise<number>, signal));
    }
    let sent = 0;
    let largest = 4096;
    let reader: RedisClient | undefined;
    const stopReader = () => reader?.disconnect();
    signal.addEventListener("abort", stopReader, { once: true });
    try {
      while (!signal.aborted) {
        const want = Math.max(1, Math.min(MAX_PAGE, Math.floor(PAGE_BYTES / largest), maxRecords > 0 ? maxRecords - sent : MAX_PAGE));
        const page = (await this.ctx.guard.read(() => client.xrangeBuffer(k, `0-${next}`, "+", "COUNT", want), signal)) as Entry[];
        for (const entry of page) {
          const r = toRecord(stream, entry);
          largest = Math.max(largest, r.payload.byteLength);
          next = r.offset + 1;
          yield r;
          if (maxRecords > 0 && ++sent >= maxRecords) return;
          if (signal.aborted) return;
        }
        if (page.length === want) continue;
        if (!follow) return;
        reader ??= await this.ctx.conn.blockingClient();
        if (signal.aborted) return;
        try {
          // Only a wake-up: the next XRANGE reads what arrived (from the first id after `next - 1`).
          await reader.xreadBuffer("COUNT", 1, "BLOCK", BLOCK_MS, "STREAMS", k, `0-${Math.max(0, next - 1)}`);
        } catch (err) {
          if (signal.aborted) return;
          throw redisError(err, this.ctx.conn);
        }
      }
    } finally {
      signal.removeEventListener("abort", stopReader);
      reader?.disconnect();
    }
  }

  async trim(stream: string, partition: number, beforeOffset: number): Promise<number> {
    if (partition !== 0) throw invalidArgument(`Redis streams have one partition, 0 (asked for ${partition})`);
    const { client } = this.ctx.conn;
    const k = this.ctx.prefix + stream;
    return Number(await this.ctx.write(() => client.eval(TRIM, 1, k, beforeOffset) as Promise<number>));
  }
}

type Entry = [Buffer, Buffer[]];

function toRecord(stream: string, [id, fields]: Entry): StreamRecordData {
  const r: StreamRecordData = { stream, partition: 0, offset: Number(id.toString().slice(2)), payload: new Uint8Array(), metadata: {}, key: "", timestamp: 0 };
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const value = fields[i + 1]!;
    switch (fields[i]!.toString()) {
      case "t":
        r.timestamp = Number(value.toString());
        break;
      case "k":
        r.key = value.toString();
        break;
      case "m":
        if (value.length) r.metadata = JSON.parse(value.toString()) as Record<string, string>;
        break;
      case "p":
        r.payload = new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
        break;
    }
  }
  return r;
}

/**
 * XADD KEYS[1] 0-* with the fields; answers "<offset>:<timestamp>". The timestamp is Redis's clock, raised to the
 * last entry's so it never goes back. With a marker KEYS[2], a retry answers the first append's reply.
 */
const APPEND = `if KEYS[2] then
  local seen = redis.call('GET', KEYS[2])
  if seen then return seen end
end
local now = redis.call('TIME')
local t = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)[1]
if last and last[2][1] == 't' then
  local lt = tonumber(last[2][2])
  if lt > t then t = lt end
end
local id = redis.call('XADD', KEYS[1], '0-*', 't', string.format('%d', t), 'k', ARGV[2], 'm', ARGV[3], 'p', ARGV[1])
local reply = string.sub(id, 3) .. ':' .. string.format('%d', t)
if KEYS[2] then redis.call('SET', KEYS[2], reply, 'PX', ARGV[4]) end
return reply`;

/** The first offset of KEYS[1] stamped at or after ARGV[1] (binary search; timestamps never decrease along a stream). */
const OFFSET_AT_TIME = `local function at(n)
  local e = redis.call('XRANGE', KEYS[1], '0-' .. n, '+', 'COUNT', 1)[1]
  local f = e[2]
  for i = 1, #f, 2 do if f[i] == 't' then return tonumber(string.sub(e[1], 3)), tonumber(f[i + 1]) end end
end
local first = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)[1]
if not first then return 0 end
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)[1]
local lo = tonumber(string.sub(first[1], 3))
local hi = tonumber(string.sub(last[1], 3)) + 1
local ts = tonumber(ARGV[1])
while lo < hi do
  local mid = math.floor((lo + hi) / 2)
  local s, t = at(mid)
  if t >= ts then hi = mid else lo = s + 1 end
end
return lo`;

/** XTRIM KEYS[1] MINID 0-ARGV[1]; answers the lowest offset still readable (the next one to be appended when none is). */
const TRIM = `if redis.call('EXISTS', KEYS[1]) == 0 then return 1 end
redis.call('XTRIM', KEYS[1], 'MINID', '0-' .. ARGV[1])
local first = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)[1]
if first then return tonumber(string.sub(first[1], 3)) end
local info = redis.call('XINFO', 'STREAM', KEYS[1])
for i = 1, #info, 2 do
  if info[i] == 'last-generated-id' then return tonumber(string.sub(info[i + 1], 3)) + 1 end
end
return 1`;
