import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Redis } from "ioredis";
import { Code } from "../../sdk/grpc/errors";
import { deletePrefix, failureCode, directRedis, sharedRedisAddress, startRedisPattern, text, uniqueNamespace, type RedisPattern } from "./harness";

let pattern: RedisPattern;
let redis: Redis;
let address: string;
const ns = uniqueNamespace("obs");

beforeAll(async () => {
  address = await sharedRedisAddress();
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

/** The value of one sample line of a Prometheus text exposition, or undefined. */
function sample(metrics: string, name: string, labels: Record<string, string>): number | undefined {
  for (const line of metrics.split("\n")) {
    if (!line.startsWith(`${name}{`)) continue;
    const body = line.slice(name.length + 1, line.indexOf("}"));
    const have = Object.fromEntries(body.split(",").map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 2, -1)]));
    if (Object.entries(labels).every(([k, v]) => have[k] === v)) return Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return undefined;
}

describe("driver observability for Redis", () => {
  test("/metrics counts backend operations, their latency and errors under driver=redis", async () => {
    const { kv, list } = pattern.clients;
    for (let i = 0; i < 5; i++) await kv.set({ key: `m-${i}`, value: text("v") });
    for (let i = 0; i < 3; i++) await kv.get({ key: `m-${i}` });
    await list.pushRight({ key: "a-list", values: [text("x")] });
    expect(await failureCode(kv.get({ key: "a-list" }))).toBe(Code.FAILED_PRECONDITION); // WRONGTYPE

    const metrics = await (await fetch(`http://127.0.0.1:${pattern.metricsPort}/metrics`)).text();
    expect(sample(metrics, "driver_operation_total", { driver: "redis", operation: "set", status: "ok" })).toBe(5);
    expect(sample(metrics, "driver_operation_total", { driver: "redis", operation: "get", status: "ok" })).toBe(3);
    expect(sample(metrics, "driver_operation_total", { driver: "redis", operation: "get", status: "error" })).toBe(1);
    expect(sample(metrics, "driver_operation_duration_seconds_count", { driver: "redis", operation: "set" })).toBe(5);
    expect(sample(metrics, "driver_error_total", { driver: "redis", operation: "get", error_type: "FAILED_PRECONDITION" })).toBe(1);
  });

  test("with tracing on, every backend call is a client span with database attributes", async () => {
    const traced = await startRedisPattern({ address, namespace: ns }, ["--enable-tracing", "--trace-exporter", "stdout"]);
    try {
      await traced.clients.kv.set({ key: "traced", value: text("v") });
      await traced.clients.kv.get({ key: "traced" });
    } finally {
      await traced.stop(); // flushes the spans
    }
    const out = traced.proc.output();
    expect(out).toContain('name: "redis.get"');
    expect(out).toContain('"db.system": "redis"');
    expect(out).toContain('"db.operation.name": "get"');
    expect(out).toContain('"server.address": "127.0.0.1"');
  }, 30_000);
});
