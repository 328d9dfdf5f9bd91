/**
 * The Redis driver's streams (stream.ts) on a redis-server of the test's own, beyond the acceptance suite: reads
 * that span many XRANGE pages, a read from a time across many entries, offsets never reused after a trim to
 * empty, a cancelled following Read closing its own connection, and refusals (another partition, a key of
 * another type).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Redis } from "ioredis";
import { Code, PrismError } from "../sdk/grpc/errors";
import type { StreamRecordData } from "../sdk/drivers/interfaces";
import { createLogger } from "../sdk/observability/logger";
import { type OwnRedis, startOwnRedis } from "../tests/redis/harness";
import { waitFor } from "../tests/helpers/wait";
import { parseRedisConfig } from "./config";
import { RedisDriver } from "./driver";

const utf8 = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);
let own: OwnRedis;
let driver: RedisDriver;
let admin: Redis;

const read = (stream: string, from: Partial<{ fromOffset: number; fromTimestamp: number; maxRecords: number }> = {}) =>
  Array.fromAsync(
    driver.read({ stream, partition: 0, fromOffset: 0, fromTimestamp: 0, maxRecords: 0, follow: false, signal: AbortSignal.timeout(20_000), ...from }),
  );

/** Connections of the pattern's name on the test's server. */
const patternConnections = async () =>
  ((await admin.call("CLIENT", "LIST", "TYPE", "normal")) as string).split("\n").filter((l) => l.includes("name=prism-redis")).length;

beforeAll(async () => {
  own = await startOwnRedis({ args: () => ["--appendonly", "no"] });
  driver = new RedisDriver(parseRedisConfig({ address: own.address }, { configFile: "test", namespace: "st" }), createLogger({ level: "error" }));
  if (!(await driver.connected(10_000))) throw new Error(`redis ${own.address} not reachable`);
  admin = new Redis(own.address, { maxRetriesPerRequest: 1 });
}, 30_000);

afterAll(async () => {
  admin?.disconnect();
  await driver?.close();
  await own?.destroy();
});

describe("redis streams", () => {
  test("a read across many pages returns every record once, in order; max_records stops inside a page", async () => {
    for (let i = 0; i < 700; i += 100) {
      await Promise.all(Array.from({ length: 100 }, (_, j) => driver.append("many", utf8(String(i + j)), { n: String(i + j) }, "k")));
    }
    const all = await read("many");
    expect(all.length).toBe(700);
    expect(all.map((r) => r.offset)).toEqual(Array.from({ length: 700 }, (_, i) => i + 1));
    expect(new Set(all.map((r) => text(r.payload))).size).toBe(700);
    const window = await read("many", { fromOffset: 250, maxRecords: 300 });
    expect(window.map((r) => r.offset)).toEqual(Array.from({ length: 300 }, (_, i) => 250 + i));
  }, 30_000);

  test("a read from a time starts at the first record stamped at or after it, over many entries; timestamps never decrease", async () => {
    const stamps: number[] = [];
    for (let group = 0; group < 4; group++) {
      const acks = await Promise.all(Array.from({ length: 50 }, (_, j) => driver.append("times", utf8(`${group}-${j}`), {}, "")));
      stamps.push(Math.max(...acks.map((a) => a.timestamp)));
      const after = stamps[group]! + 2;
      while (Date.now() <= after) await Bun.sleep(1);
    }
    const all = await read("times");
    for (let i = 1; i < all.length; i++) expect(all[i]!.timestamp).toBeGreaterThanOrEqual(all[i - 1]!.timestamp);
    for (let group = 1; group < 4; group++) {
      const from = await read("times", { fromTimestamp: stamps[group - 1]! + 1 });
      expect(from.length).toBe((4 - group) * 50);
      expect(from.every((r) => r.timestamp > stamps[group - 1]!)).toBe(true);
    }
    expect(await read("times", { fromTimestamp: stamps[3]! + 1 })).toEqual([]);
    expect(await read("no-such-stream", { fromTimestamp: 1 })).toEqual([]);
  }, 30_000);

  test("trim to empty keeps the offsets going: the low offset is the next one, and no offset is reused", async () => {
    const a = await driver.append("trimmed", utf8("a"), {}, "");
    const b = await driver.append("trimmed", utf8("b"), {}, "");
    expect(await driver.trim("trimmed", 0, b.offset + 10)).toBe(b.offset + 1);
    expect(await read("trimmed")).toEqual([]);
    const c = await driver.append("trimmed", utf8("c"), {}, "");
    expect(c.offset).toBe(b.offset + 1);
    expect(c.offset).toBeGreaterThan(a.offset);
    expect((await read("trimmed")).map((r) => text(r.payload))).toEqual(["c"]);
    expect(await driver.trim("never-appended", 0, 5)).toBe(1);
  });

  test("a cancelled following read ends and closes its own connection", async () => {
    await driver.append("follow", utf8("first"), {}, "");
    const before = await patternConnections();
    const abort = new AbortController();
    const got: StreamRecordData[] = [];
    const reading = (async () => {
      for await (const r of driver.read({
        stream: "follow",
        partition: 0,
        fromOffset: 0,
        fromTimestamp: 0,
        maxRecords: 0,
        follow: true,
        signal: abort.signal,
      })) {
        got.push(r);
      }
    })();
    await waitFor(async () => got.length === 1 && (await patternConnections()) === before + 1, "the reader's own connection to open", { timeoutMs: 10_000 });
    await driver.append("follow", utf8("second"), {}, "");
    await waitFor(async () => got.length === 2, "the appended record to arrive", { timeoutMs: 10_000 });
    abort.abort();
    await reading;
    await waitFor(async () => (await patternConnections()) === before, "the reader's connection to close", { timeoutMs: 10_000 });
    expect(got.map((r) => text(r.payload))).toEqual(["first", "second"]);
  }, 30_000);

  test("another partition is INVALID_ARGUMENT; a stream named like a key of another type is FAILED_PRECONDITION", async () => {
    const code = async (p: Promise<unknown>) =>
      p.then(
        () => Code.OK,
        (e) => PrismError.from(e).code,
      );
    const otherPartition = driver.read({
      stream: "many",
      partition: 1,
      fromOffset: 0,
      fromTimestamp: 0,
      maxRecords: 0,
      follow: false,
      signal: AbortSignal.timeout(5000),
    });
    expect(await code(Array.fromAsync(otherPartition))).toBe(Code.INVALID_ARGUMENT);
    expect(await code(Promise.resolve(driver.trim("many", 2, 1)))).toBe(Code.INVALID_ARGUMENT);
    await driver.set("a-string", utf8("v"), 0);
    expect(await code(Promise.resolve(driver.append("a-string", utf8("x"), {}, "")))).toBe(Code.FAILED_PRECONDITION);
  });

  test("a following read on a frozen server ends with an error instead of waiting forever; reads work again once it answers", async () => {
    await driver.append("frozen", utf8("before"), {}, "");
    const got: string[] = [];
    const reading = (async () => {
      for await (const r of driver.read({
        stream: "frozen",
        partition: 0,
        fromOffset: 0,
        fromTimestamp: 0,
        maxRecords: 0,
        follow: true,
        signal: AbortSignal.timeout(60_000),
      }))
        got.push(text(r.payload));
    })();
    const ended = reading.then(
      () => "ended without error",
      (e) => PrismError.from(e).code,
    );
    await waitFor(() => got.length === 1, "the first record", { timeoutMs: 10_000 });
    own.pause();
    try {
      // Bounded by the BLOCK time plus command_timeout (client-side), then the next XRANGE's command_timeout.
      const outcome = await Promise.race([ended, Bun.sleep(20_000).then(() => "still waiting after 20 s")]);
      expect<unknown[]>([Code.UNAVAILABLE, Code.DEADLINE_EXCEEDED]).toContain(outcome);
    } finally {
      own.resume();
    }
    await waitFor(async () => (await read("frozen").catch(() => [])).length === 1, "reads to work again", { timeoutMs: 15_000 });
  }, 60_000);
});
