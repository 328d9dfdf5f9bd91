import { createHash } from "node:crypto";
import {
  versionMismatch,
  invalidArgument,
  type WriteOptions,
  type KeyValueVersionedDriver,
  type VersionedValue,
  type BatchSetEntry,
  type KeyValueBasicDriver,
  type KeyValueBatchDriver,
  type KeyValueTTLDriver,
} from "@prism/sdk";
import { asBuffer, type RedisContext } from "./context";
import { splitTags, withTags } from "./tags";

type Reply = [Error | null, unknown][] | null;

/** Throws the first error of a pipeline/transaction reply, so a partly failed batch is not reported as done. */
function checkReplies(replies: Reply): unknown[] {
  if (replies === null) throw new Error("Connection is closed.");
  const out: unknown[] = new Array(replies.length);
  for (let i = 0; i < replies.length; i++) {
    const [err, value] = replies[i]!;
    if (err) throw err;
    out[i] = value;
  }
  return out;
}

/**
 * Key-value basic, TTL and batch operations on Redis strings with native expiry. Reads go through the guard's
 * retry; writes are sent once. Batches are one round trip: MSET/MGET (MULTI when some entries carry a TTL) on a
 * single server; per-key commands that auto-pipelining groups per node in cluster mode, where multi-key commands
 * must stay within one hash slot. A keyed write (x-prism-idempotency-key) is one Lua script that applies the write
 * and records its result in a marker key living the idempotency window, or answers the recorded result: the marker
 * is in Redis, so a retry is recognised after a restart of the pattern too.
 */
export class RedisKeyValue implements KeyValueBasicDriver, KeyValueTTLDriver, KeyValueBatchDriver, KeyValueVersionedDriver {
  constructor(private readonly ctx: RedisContext) {}

  /**
   * Versions are the SHA-1 of the value (what Lua's redis.sha1hex computes): no extra key or round trip, and a
   * compare-and-set is one script. Rewriting identical bytes keeps the version, which cannot lose an update.
   */
  async getVersioned(key: string): Promise<VersionedValue | undefined> {
    const stored = await this.getStored(key);
    if (stored === undefined) return undefined;
    const { value, tags } = splitTags(stored);
    return tags ? { value, version: versionOf(stored), tags } : { value, version: versionOf(stored) };
  }

  async setVersioned(
    key: string,
    plain: Uint8Array,
    ttlSeconds: number,
    expected: string | undefined,
    write?: WriteOptions,
    tags?: Record<string, string>,
  ): Promise<string> {
    const value = withTags(plain, tags);
    if (expected === undefined) {
      await this.set(key, value, ttlSeconds, write);
      return versionOf(value);
    }
    const { client } = this.ctx.conn;
    const k = this.ctx.prefix + key;
    const keys = write?.idempotencyKey ? [k, markerKey(k, write.idempotencyKey)] : [k];
    const reply = (await this.ctx.write(() => client.eval(CAS_SET, keys.length, ...keys, expected, asBuffer(value), ttlSeconds, write?.windowMs ?? 0))) as [
      number,
      string,
      number,
    ];
    if (reply[0] === 0) throw versionMismatch(key, expected, reply[2] === 1 ? reply[1] : undefined);
    return versionOf(value);
  }

  async deleteVersioned(key: string, expected: string | undefined, write?: WriteOptions): Promise<boolean> {
    if (expected === undefined) return this.delete(key, write);
    const { client } = this.ctx.conn;
    const k = this.ctx.prefix + key;
    const keys = write?.idempotencyKey ? [k, markerKey(k, `del:${write.idempotencyKey}`)] : [k];
    const reply = (await this.ctx.write(() => client.eval(CAS_DEL, keys.length, ...keys, expected, write?.windowMs ?? 0))) as [number, string, number];
    if (reply[0] === 0) throw versionMismatch(key, expected, reply[2] === 1 ? reply[1] : undefined);
    return reply[1] !== "0";
  }

  set(key: string, value: Uint8Array, ttlSeconds: number, write?: WriteOptions): Promise<void> {
    const { client } = this.ctx.conn;
    const k = this.ctx.prefix + key;
    const v = asBuffer(value);
    if (write?.idempotencyKey) {
      const marker = markerKey(k, write.idempotencyKey);
      // One script: the marker (SET NX PX window) and the write are applied together or not at all, so a retry
      // of a write whose reply was lost finds the marker and does nothing, even after a pattern restart.
      return this.ctx.write(async () => {
        await client.eval(SET_ONCE, 2, marker, k, write.windowMs, v, ttlSeconds);
      });
    }
    return this.ctx.write(async () => {
      await (ttlSeconds > 0 ? client.set(k, v, "EX", ttlSeconds) : client.set(k, v));
    });
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    const stored = await this.getStored(key);
    return stored && splitTags(stored).value;
  }

  /** The string as stored (a tagged value with its tags). */
  private async getStored(key: string): Promise<Uint8Array | undefined> {
    const { client } = this.ctx.conn;
    const k = this.ctx.prefix + key;
    return (await this.ctx.guard.read(() => client.getBuffer(k))) ?? undefined;
  }

  async delete(key: string, write?: WriteOptions): Promise<boolean> {
    const { client } = this.ctx.conn;
    const k = this.ctx.prefix + key;
    if (write?.idempotencyKey) return (await this.once(DEL_ONCE, "del", k, write)) !== "0";
    return (await this.ctx.write(() => client.del(k))) > 0;
  }

  async exists(key: string): Promise<boolean> {
    const { client } = this.ctx.conn;
    const k = this.ctx.prefix + key;
    return (await this.ctx.guard.read(() => client.exists(k))) > 0;
  }

  /** EXPIRE: false when the key does not exist; a TTL of zero or less deletes the key (Redis semantics). */
  async expire(key: string, ttlSeconds: number, write?: WriteOptions): Promise<boolean> {
    const { client } = this.ctx.conn;
    const k = this.ctx.prefix + key;
    if (write?.idempotencyKey) return (await this.once(EXPIRE_ONCE, "expire", k, write, ttlSeconds)) === "1";
    return (await this.ctx.write(() => client.expire(k, ttlSeconds))) === 1;
  }

  getTTL(key: string): Promise<number> {
    const { client } = this.ctx.conn;
    const k = this.ctx.prefix + key;
    return this.ctx.guard.read(() => client.ttl(k));
  }

  async persist(key: string, write?: WriteOptions): Promise<boolean> {
    const { client } = this.ctx.conn;
    const k = this.ctx.prefix + key;
    if (write?.idempotencyKey) return (await this.once(PERSIST_ONCE, "persist", k, write)) === "1";
    return (await this.ctx.write(() => client.persist(k))) === 1;
  }

  /** Runs a single-key script of onceScript: marker in the key's slot, KEYS[2] the data key, ARGV[2] its argument. */
  private once(script: string, op: string, fullKey: string, write: WriteOptions, arg: string | number = ""): Promise<string> {
    const { client } = this.ctx.conn;
    const marker = markerKey(fullKey, `${op}:${write.idempotencyKey}`);
    return this.ctx.write(async () => String(await client.eval(script, 2, marker, fullKey, write.windowMs, arg)));
  }

  /**
   * A keyed batch: one script over every key on a single server (all or nothing, applied once); in cluster mode,
   * where one script cannot span slots, each entry is applied once on its own (key per entry and position).
   */
  private async batchOnce(op: "batchSet" | "batchDelete", keys: string[], argv: (string | Buffer | number)[], write: WriteOptions): Promise<string> {
    const { client } = this.ctx.conn;
    const marker = `{prism-idempotency}:${this.ctx.prefix}:${op}:${write.idempotencyKey}`;
    const script = op === "batchSet" ? BATCH_SET_ONCE : BATCH_DEL_ONCE;
    return this.ctx.write(async () => String(await client.eval(script, keys.length + 1, marker, ...keys, write.windowMs, ...argv)));
  }

  batchSet(given: BatchSetEntry[], write?: WriteOptions): Promise<void> {
    if (given.length === 0) return Promise.resolve();
    const entries = given.map((e) => (e.tags ? { ...e, value: withTags(e.value, e.tags) } : e));
    const { client } = this.ctx.conn;
    const p = this.ctx.prefix;
    if (write?.idempotencyKey) {
      if (this.ctx.cluster) {
        return Promise.all(entries.map((e, i) => this.set(e.key, e.value, e.ttlSeconds, entryWrite(write, "batchSet", i)))).then(() => undefined);
      }
      const argv = entries.flatMap((e) => [asBuffer(e.value), e.ttlSeconds]);
      return this.batchOnce(
        "batchSet",
        entries.map((e) => p + e.key),
        argv,
        write,
      ).then(() => undefined);
    }
    if (this.ctx.cluster) {
      return this.ctx.write(async () => {
        await Promise.all(
          entries.map((e) => (e.ttlSeconds > 0 ? client.set(p + e.key, asBuffer(e.value), "EX", e.ttlSeconds) : client.set(p + e.key, asBuffer(e.value)))),
        );
      });
    }
    const plain: (string | Buffer)[] = [];
    const expiring: BatchSetEntry[] = [];
    for (const e of entries) {
      if (e.ttlSeconds > 0) expiring.push(e);
      else plain.push(p + e.key, asBuffer(e.value));
    }
    if (expiring.length === 0) return this.ctx.write(async () => void (await client.mset(plain)));
    // MULTI keeps the batch all-or-nothing when TTL entries need their own SET ... EX; still one round trip.
    return this.ctx.write(async () => {
      const tx = client.multi();
      if (plain.length > 0) tx.mset(plain);
      for (const e of expiring) tx.set(p + e.key, asBuffer(e.value), "EX", e.ttlSeconds);
      checkReplies(await tx.exec());
    });
  }

  async batchGet(keys: string[]): Promise<(Uint8Array | undefined)[]> {
    if (keys.length === 0) return [];
    const { client } = this.ctx.conn;
    const p = this.ctx.prefix;
    const full = keys.map((k) => p + k);
    const values = await this.ctx.guard.read(() => (this.ctx.cluster ? Promise.all(full.map((k) => client.getBuffer(k))) : client.mgetBuffer(full)));
    return values.map((v) => (v ? splitTags(v).value : undefined));
  }

  async batchDelete(keys: string[], write?: WriteOptions): Promise<boolean[]> {
    if (keys.length === 0) return [];
    const { client } = this.ctx.conn;
    const p = this.ctx.prefix;
    if (write?.idempotencyKey) {
      if (this.ctx.cluster) return Promise.all(keys.map((k, i) => this.delete(k, entryWrite(write, "batchDelete", i))));
      const counts = await this.batchOnce(
        "batchDelete",
        keys.map((k) => p + k),
        [],
        write,
      );
      return counts.split(",").map((n) => n !== "0");
    }
    // DEL k1 k2 answers only a total; one DEL per key (pipelined) tells which keys existed.
    const counts = await this.ctx.write(async () => {
      if (this.ctx.cluster) return Promise.all(keys.map((k) => client.del(p + k)));
      return checkReplies(await client.pipeline(keys.map((k) => ["del", p + k])).exec()) as number[];
    });
    return counts.map((n) => n > 0);
  }
}

/** SET KEYS[2] = ARGV[2] (EX ARGV[3] when > 0) unless marker KEYS[1] exists; the marker lives ARGV[1] ms. */
const SET_ONCE = `if redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then
  if tonumber(ARGV[3]) > 0 then redis.call('SET', KEYS[2], ARGV[2], 'EX', ARGV[3]) else redis.call('SET', KEYS[2], ARGV[2]) end
  return 1
end
return 0`;

/** The version of a value: its SHA-1, hex (equal to redis.sha1hex in the scripts). */
export function versionOf(value: Uint8Array): string {
  return createHash("sha1").update(value).digest("hex");
}

/**
 * Compare-and-set: KEYS[1] the data key, KEYS[2] (keyed writes) the idempotency marker; ARGV: expected version
 * ("" = absent), value, TTL seconds, marker lifetime ms. Answers {1, "", 1} when written (or already written by
 * this idempotency key), {0, current version, exists} on a mismatch (nothing recorded: a retry checks again).
 */
const CAS_SET = `if KEYS[2] and redis.call('EXISTS', KEYS[2]) == 1 then return {1, '', 1} end
local cur = redis.call('GET', KEYS[1])
local have = cur and redis.sha1hex(cur) or ''
if (ARGV[1] == '' and cur) or (ARGV[1] ~= '' and have ~= ARGV[1]) then return {0, have, cur and 1 or 0} end
if tonumber(ARGV[3]) > 0 then redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3]) else redis.call('SET', KEYS[1], ARGV[2]) end
if KEYS[2] then redis.call('SET', KEYS[2], '1', 'PX', ARGV[4]) end
return {1, '', 1}`;

/** Conditional delete: as CAS_SET; answers {1, DEL count} (the recorded one for a repeated idempotency key). */
const CAS_DEL = `if KEYS[2] then
  local seen = redis.call('GET', KEYS[2])
  if seen then return {1, seen, 1} end
end
local cur = redis.call('GET', KEYS[1])
local have = cur and redis.sha1hex(cur) or ''
if (ARGV[1] == '' and cur) or (ARGV[1] ~= '' and have ~= ARGV[1]) then return {0, have, cur and 1 or 0} end
local n = tostring(redis.call('DEL', KEYS[1]))
if KEYS[2] then redis.call('SET', KEYS[2], n, 'PX', ARGV[2]) end
return {1, n, 1}`;

/** A script that answers the result recorded in marker KEYS[1], or runs `body` and records its result for ARGV[1] ms. */
function onceScript(body: string): string {
  return `local seen = redis.call('GET', KEYS[1])
if seen then return seen end
local r = ${body}
redis.call('SET', KEYS[1], r, 'PX', ARGV[1])
return r`;
}

const DEL_ONCE = onceScript("tostring(redis.call('DEL', KEYS[2]))");
const EXPIRE_ONCE = onceScript("tostring(redis.call('EXPIRE', KEYS[2], ARGV[2]))");
const PERSIST_ONCE = onceScript("tostring(redis.call('PERSIST', KEYS[2]))");
/** KEYS[2..] the data keys; entry j's value and TTL are ARGV[2j] and ARGV[2j+1]. */
const BATCH_SET_ONCE = onceScript(`(function()
  for i = 2, #KEYS do
    local ttl = tonumber(ARGV[2 * i - 1])
    if ttl > 0 then redis.call('SET', KEYS[i], ARGV[2 * i - 2], 'EX', ttl) else redis.call('SET', KEYS[i], ARGV[2 * i - 2]) end
  end
  return '1'
end)()`);
/** Answers "n1,n2,…": the DEL count of each key. */
const BATCH_DEL_ONCE = onceScript(`(function()
  local out = {}
  for i = 2, #KEYS do out[#out + 1] = tostring(redis.call('DEL', KEYS[i])) end
  return table.concat(out, ',')
end)()`);

/** The write options of entry i of a keyed batch applied entry by entry. */
function entryWrite(write: WriteOptions, op: string, i: number): WriteOptions {
  return { ...write, idempotencyKey: `${op}:${i}:${write.idempotencyKey}` };
}

/**
 * The marker of an idempotent write to `fullKey`: in the key's cluster slot (its hash tag, or the whole key as
 * the tag), so the script touches one slot; it starts with '{', so no namespace's SCAN MATCH <prefix>* sees it.
 */
export function markerKey(fullKey: string, idempotencyKey: string): string {
  const open = fullKey.indexOf("{");
  const close = open >= 0 ? fullKey.indexOf("}", open + 1) : -1;
  let tag: string;
  if (open >= 0 && close > open + 1) tag = fullKey.slice(open + 1, close);
  else if (!fullKey.includes("}")) tag = fullKey;
  else throw invalidArgument("x-prism-idempotency-key cannot be used with a key holding '}' outside a hash tag");
  return `{${tag}}:prism-idempotency:${idempotencyKey}`;
}
