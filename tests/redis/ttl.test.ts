import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Redis } from "ioredis";
import { deletePrefix, directRedis, eventually, sharedRedisAddress, startRedisPattern, text, uniqueNamespace, type RedisPattern } from "./harness";

let pattern: RedisPattern;
let redis: Redis;
const ns = uniqueNamespace("ttl");

beforeAll(async () => {
  const address = await sharedRedisAddress();
  pattern = await startRedisPattern({ address, namespace: ns });
  redis = directRedis(address);
});

afterAll(async () => {
  await pattern?.stop();
  try {
    await deletePrefix(redis, `${ns}:`);
  } finally {
    redis?.disconnect();
  }
});

describe("TTL through Redis", () => {
  test("Set with ttl_seconds is SET ... EX: Redis itself holds the expiry", async () => {
    await pattern.clients.kv.set({ key: "session", value: text("s"), ttlSeconds: 300n });
    const ttl = await redis.ttl(`${ns}:session`);
    expect(ttl).toBeGreaterThan(290);
    expect(ttl).toBeLessThanOrEqual(300);
    expect((await pattern.clients.ttl.getTTL({ key: "session" })).ttlSeconds).toBe(BigInt(ttl));
  });

  test("Redis expires the key, and the pattern stops seeing it", async () => {
    await pattern.clients.kv.set({ key: "short", value: text("s"), ttlSeconds: 1n });
    expect((await pattern.clients.kv.get({ key: "short" })).found).toBe(true);
    expect(await eventually(async () => !(await pattern.clients.kv.exists({ key: "short" })).exists, 5_000)).toBe(true);
    expect(await redis.exists(`${ns}:short`)).toBe(0);
    expect((await pattern.clients.ttl.getTTL({ key: "short" })).ttlSeconds).toBe(-2n);
  });

  test("Expire, GetTTL and Persist map to EXPIRE, TTL and PERSIST", async () => {
    await pattern.clients.kv.set({ key: "k", value: text("v") });
    expect((await pattern.clients.ttl.getTTL({ key: "k" })).ttlSeconds).toBe(-1n);
    expect(await redis.ttl(`${ns}:k`)).toBe(-1);

    expect(await pattern.clients.ttl.expire({ key: "k", ttlSeconds: 120n })).toMatchObject({ success: true, keyExisted: true });
    expect(await redis.ttl(`${ns}:k`)).toBeGreaterThan(110);

    expect(await pattern.clients.ttl.persist({ key: "k" })).toMatchObject({ success: true, expirationRemoved: true });
    expect(await redis.ttl(`${ns}:k`)).toBe(-1);
    expect(await pattern.clients.ttl.persist({ key: "k" })).toMatchObject({ expirationRemoved: false });

    expect(await pattern.clients.ttl.expire({ key: "missing", ttlSeconds: 10n })).toMatchObject({ success: false, keyExisted: false });
    expect((await pattern.clients.ttl.getTTL({ key: "missing" })).ttlSeconds).toBe(-2n);
  });

  test("Set without a TTL overwrites an expiry, as Redis SET does", async () => {
    await pattern.clients.kv.set({ key: "o", value: text("1"), ttlSeconds: 100n });
    await pattern.clients.kv.set({ key: "o", value: text("2") });
    expect(await redis.ttl(`${ns}:o`)).toBe(-1);
  });

  test("BatchSet carries per-entry TTLs in the same round trip", async () => {
    await pattern.clients.batch.batchSet({
      requests: [
        { key: "b-plain", value: text("p") },
        { key: "b-ttl", value: text("t"), ttlSeconds: 200n },
      ],
    });
    expect(await redis.ttl(`${ns}:b-plain`)).toBe(-1);
    expect(await redis.ttl(`${ns}:b-ttl`)).toBeGreaterThan(190);
    expect(await redis.get(`${ns}:b-ttl`)).toBe("t");
  });

  test("Expire with zero deletes the key, as Redis does", async () => {
    await pattern.clients.kv.set({ key: "z", value: text("v") });
    expect(await pattern.clients.ttl.expire({ key: "z", ttlSeconds: 0n })).toMatchObject({ keyExisted: true });
    expect(await redis.exists(`${ns}:z`)).toBe(0);
  });
});
