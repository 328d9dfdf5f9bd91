import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Redis } from "ioredis";
import { PubSubBasicInterface } from "../../proto/gen/prism/interfaces/pubsub/pubsub_basic_pb";
import { createClient } from "../../sdk/grpc/client";
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
  test("/metrics counts backend operations (streaming ones included), their latency and errors under driver=redis", async () => {
    const { kv, list } = pattern.clients;
    for (let i = 0; i < 5; i++) await kv.set({ key: `m-${i}`, value: text("v") });
    for (let i = 0; i < 3; i++) await kv.get({ key: `m-${i}` });
    await list.pushRight({ key: "a-list", values: [text("x")] });
    expect(await failureCode(kv.get({ key: "a-list" }))).toBe(Code.FAILED_PRECONDITION); // WRONGTYPE

    // Streaming driver calls are counted when their stream ends.
    expect((await Array.fromAsync(pattern.clients.scan.scanKeys({ prefix: "m-" }))).length).toBe(5);
    const subscription = Array.fromAsync(pattern.clients.pubsub.subscribe({ topic: "obs", subscriberId: "o" }));
    const deadline = Date.now() + 10_000;
    while (!(await pattern.clients.pubsub.unsubscribe({ topic: "obs", subscriberId: "o" })).success && Date.now() < deadline) await Bun.sleep(20);
    expect(await subscription).toEqual([]);

    const metrics = await (await fetch(`http://127.0.0.1:${pattern.metricsPort}/metrics`)).text();
    expect(sample(metrics, "driver_operation_total", { driver: "redis", operation: "scan", status: "success" })).toBe(1);
    expect(sample(metrics, "driver_operation_duration_seconds_count", { driver: "redis", operation: "scan" })).toBe(1);
    expect(sample(metrics, "driver_operation_total", { driver: "redis", operation: "subscribe", status: "success" })).toBe(1);
    expect(sample(metrics, "driver_operation_total", { driver: "redis", operation: "set", status: "success" })).toBe(5);
    expect(sample(metrics, "driver_operation_total", { driver: "redis", operation: "get", status: "success" })).toBe(3);
    expect(sample(metrics, "driver_operation_total", { driver: "redis", operation: "get", status: "error" })).toBe(1);
    expect(sample(metrics, "driver_operation_duration_seconds_count", { driver: "redis", operation: "set" })).toBe(5);
    expect(sample(metrics, "driver_error_total", { driver: "redis", operation: "get", error_type: "failed_precondition" })).toBe(1);
    // The command connection, and the subscriber the subscription opened.
    expect(sample(metrics, "backend_driver_connections_active", { driver: "redis" })).toBe(2);
  });

  test("a subscriber that stops reading: its drops and buffer show in /metrics under driver=redis", async () => {
    const slow = await startRedisPattern({ address, namespace: ns, subscriber_buffer: 8 });
    const abort = new AbortController();
    const topic = "slow-redis";
    // HTTP/2's default window (the SDK's client announces a large one), so that the windows fill after a few messages.
    const subscriber = createClient(PubSubBasicInterface, slow.address, undefined, { "grpc-node.flow_control_window": 65_535 });
    const it = subscriber.client.subscribe({ topic, subscriberId: "slow" }, { signal: abort.signal, timeoutMs: 0 })[Symbol.asyncIterator]();
    const scrape = async () => (await fetch(`http://127.0.0.1:${slow.metricsPort}/metrics`)).text();
    try {
      const first = it.next();
      let live = false;
      void first.then(() => (live = true));
      for (let i = 0; !live && i < 100; i++) {
        await slow.clients.pubsub.publish({ topic, payload: text("probe") });
        await Bun.sleep(20);
      }
      await first;
      const n = 1_000;
      const payload = new Uint8Array(4096);
      for (let i = 0; i < n; i += 50) await Promise.all(Array.from({ length: 50 }, () => slow.clients.pubsub.publish({ topic, payload })));
      // Redis delivers after PUBLISH answers: wait until the drops are counted.
      let metrics = "";
      const dropped = () => sample(metrics, "prism_subscriber_dropped_messages_total", { driver: "redis", topic }) ?? 0;
      const deadline = Date.now() + 10_000;
      while (dropped() < n / 2 && Date.now() < deadline) {
        await Bun.sleep(50);
        metrics = await scrape();
      }
      expect(dropped()).toBeGreaterThan(n / 2);
      const buffered = sample(metrics, "prism_subscriber_buffered_messages", { driver: "redis" }) ?? -1;
      expect(buffered).toBeGreaterThan(0);
      expect(buffered).toBeLessThanOrEqual(8);
    } finally {
      abort.abort();
      await it.return?.();
      subscriber.close();
      await slow.stop();
    }
  }, 30_000);

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
