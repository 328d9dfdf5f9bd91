import { describe, expect, test } from "bun:test";
import type { Redis } from "ioredis";
import type { Resilience } from "../sdk/drivers/resilience";
import type { RedisConnection } from "./connection";
import type { RedisContext } from "./context";
import { CursorCodec } from "./cursor";
import { RedisScan } from "./scan";

/** A single-server context whose one node records the COUNT of every SCAN and returns no keys. */
function recordingContext(): { ctx: RedisContext; counts: number[] } {
  const counts: number[] = [];
  const node = {
    options: { host: "127.0.0.1", port: 6379 },
    scan: async (...args: (string | number)[]) => {
      counts.push(Number(args[args.indexOf("COUNT") + 1]));
      return ["0", []];
    },
    exists: async () => 1,
    pipeline() {
      const n: number[] = [];
      return {
        exists(_k: string) {
          n.push(1);
        },
        exec: async () => n.map((v) => [null, v]),
      };
    },
  } as unknown as Redis;
  const ctx: RedisContext = {
    conn: { masters: () => [node] } as unknown as RedisConnection,
    guard: { read: <T>(fn: () => Promise<T>) => fn() } as unknown as Resilience,
    prefix: "ns:",
    cluster: false,
    write: (fn) => fn(),
  };
  return { ctx, counts };
}

describe("redis scan", () => {
  test("a cursor's COUNT is capped at the configured scan_count", async () => {
    const { ctx, counts } = recordingContext();
    const scan = new RedisScan(ctx, 500, "s");
    const cursor = new CursorCodec("ns:", "s").encode({ node: "", redisCursor: "17", count: 100_000, pending: ["a"] });
    const signal = new AbortController().signal;
    const entries = await Array.fromAsync(scan.scan({ prefix: "", limit: 0, cursor, withValues: false, signal }));
    expect(entries.map((e) => e.key)).toEqual(["a"]);
    expect(counts).toEqual([500]);
  });

  test("a cursor's smaller COUNT is kept", async () => {
    const { ctx, counts } = recordingContext();
    const scan = new RedisScan(ctx, 500, "s");
    const cursor = new CursorCodec("ns:", "s").encode({ node: "", redisCursor: "17", count: 64, pending: ["a"] });
    await Array.fromAsync(scan.scan({ prefix: "", limit: 0, cursor, withValues: false, signal: new AbortController().signal }));
    expect(counts).toEqual([64]);
  });
});
