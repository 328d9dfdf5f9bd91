/**
 * Forwarding through the proxy to two memstore namespaces: every data service,
 * unary and server-streaming, namespace isolation, routing errors, cancellation
 * of streams, per-namespace metrics, grpc health and reflection.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { ServerReflection } from "../../proto/gen/grpc/reflection/v1/reflection_pb";
import { createClient } from "../../sdk/grpc/client";
import { HealthCheckResponse_ServingStatus } from "../../proto/gen/grpc/health/v1/health_pb";
import { Code, PrismError } from "../../sdk/grpc/errors";
import { clientsFor, eventually, killIfAlive, startProxy, text, utf8, type StartedProxy } from "./harness";

const CONFIG = `
namespaces:
  - name: default
    pattern: memstore
  - name: cache
    pattern: memstore
    settings: { health_interval: 200ms }
`;

async function codeOf(call: () => Promise<unknown> | AsyncIterable<unknown>): Promise<{ code: number; message: string }> {
  try {
    const r = call();
    if (r && typeof (r as AsyncIterable<unknown>)[Symbol.asyncIterator] === "function") await Array.fromAsync(r as AsyncIterable<unknown>);
    else await r;
    return { code: Code.OK, message: "" };
  } catch (err) {
    const e = PrismError.from(err);
    return { code: e.code, message: e.message };
  }
}

describe("forwarding through the proxy", () => {
  let proxy: StartedProxy;
  let def: ReturnType<typeof clientsFor>;
  let cache: ReturnType<typeof clientsFor>;
  beforeAll(async () => {
    proxy = await startProxy(CONFIG);
    def = clientsFor(proxy.address);
    cache = clientsFor(proxy.address, "cache");
  });
  afterAll(async () => {
    def?.close();
    cache?.close();
    const pids = (await proxy?.patterns().catch(() => []))?.map((p) => p.pid) ?? [];
    await proxy?.stop();
    proxy?.cleanup();
    killIfAlive(pids);
  });

  test("KeyValueBasic: set, get, exists, delete", async () => {
    expect((await def.kv.set({ key: "fw:a", value: utf8("1") }, def.opts())).success).toBe(true);
    expect(text((await def.kv.get({ key: "fw:a" }, def.opts())).value)).toBe("1");
    expect((await def.kv.exists({ key: "fw:a" }, def.opts())).exists).toBe(true);
    expect((await def.kv.delete({ key: "fw:a" }, def.opts())).found).toBe(true);
    expect((await def.kv.get({ key: "fw:a" }, def.opts())).found).toBe(false);
  });

  test("a large value (1 MiB) passes through unchanged", async () => {
    const value = new Uint8Array(1 << 20).map((_, i) => i % 251);
    await def.kv.set({ key: "fw:big", value }, def.opts());
    const got = await def.kv.get({ key: "fw:big" }, def.opts());
    expect(got.value.length).toBe(value.length);
    expect(Buffer.from(got.value).equals(Buffer.from(value))).toBe(true);
  });

  test("KeyValueBatch: batch set, get, delete", async () => {
    const keys = ["fw:b1", "fw:b2", "fw:b3"];
    const set = await def.batch.batchSet({ requests: keys.map((key, i) => ({ key, value: utf8(`v${i}`) })) }, def.opts());
    expect(set.allSuccess).toBe(true);
    const got = await def.batch.batchGet({ keys: [...keys, "fw:none"] }, def.opts());
    expect(got.foundCount).toBe(3);
    expect(got.results.map((r) => (r.found ? text(r.value) : null))).toEqual(["v0", "v1", "v2", null]);
    const del = await def.batch.batchDelete({ keys }, def.opts());
    expect(del.allSuccess).toBe(true);
    expect((await def.batch.batchGet({ keys }, def.opts())).foundCount).toBe(0);
  });

  test("KeyValueScan: server-streaming Scan and ScanKeys, and Count", async () => {
    for (let i = 0; i < 25; i++) await def.kv.set({ key: `scan:${String(i).padStart(2, "0")}`, value: utf8(`s${i}`) }, def.opts());
    await def.kv.set({ key: "other:x", value: utf8("x") }, def.opts());
    const rows = await Array.fromAsync(def.scan.scan({ prefix: "scan:" }, def.opts()));
    expect(rows.map((r) => r.key)).toEqual(Array.from({ length: 25 }, (_, i) => `scan:${String(i).padStart(2, "0")}`));
    expect(text(rows[7]!.value)).toBe("s7");
    const keys = await Array.fromAsync(def.scan.scanKeys({ prefix: "scan:", limit: 10 }, def.opts()));
    expect(keys).toHaveLength(10);
    expect(keys.at(-1)!.nextCursor).not.toBe("");
    expect((await def.scan.count({ prefix: "scan:" }, def.opts())).count).toBe(25n);
  });

  test("KeyValueTTL and ListBasic are forwarded too", async () => {
    await def.kv.set({ key: "fw:ttl", value: utf8("t") }, def.opts());
    expect((await def.ttl.expire({ key: "fw:ttl", ttlSeconds: 100n }, def.opts())).success).toBe(true);
    const ttl = (await def.ttl.getTTL({ key: "fw:ttl" }, def.opts())).ttlSeconds;
    expect(ttl > 0n && ttl <= 100n).toBe(true);
    expect((await def.list.pushRight({ key: "fw:list", values: [utf8("a"), utf8("b")] }, def.opts())).length).toBe(2n);
    expect((await def.list.range({ key: "fw:list", start: 0n, stop: -1n }, def.opts())).values.map(text)).toEqual(["a", "b"]);
  });

  test("PubSub: a Subscribe stream through the proxy receives what is published", async () => {
    const ac = new AbortController();
    const sub = cache.pubsub.subscribe({ topic: "fw-topic", subscriberId: "s1" }, cache.opts({ signal: ac.signal, timeoutMs: 20_000 }))[Symbol.asyncIterator]();
    const first = sub.next();
    // The subscription is live once the pattern reports it.
    await eventually(async () => (await cache.lifecycle.healthCheck({}, cache.opts())).details.subscribers === "1", "the subscriber is registered", 5_000);
    expect((await cache.pubsub.publish({ topic: "fw-topic", payload: utf8("hello") }, cache.opts())).success).toBe(true);
    const msg = await first;
    expect(msg.done).toBe(false);
    expect(text(msg.value!.payload)).toBe("hello");
    // Cancelling the client stream cancels the pattern's stream (RST_STREAM relayed upstream).
    ac.abort();
    await sub.return?.();
    await eventually(async () => (await cache.lifecycle.healthCheck({}, cache.opts())).details.subscribers === "0", "the pattern sees the cancel", 5_000);
  });

  test("a short deadline on a stream: DEADLINE_EXCEEDED, and the pattern drops the subscriber", async () => {
    const start = Date.now();
    const r = await codeOf(() => cache.pubsub.subscribe({ topic: "deadline-topic", subscriberId: "d1" }, cache.opts({ timeoutMs: 300 })));
    expect(r.code).toBe(Code.DEADLINE_EXCEEDED);
    expect(Date.now() - start).toBeLessThan(3_000);
    await eventually(async () => (await cache.lifecycle.healthCheck({}, cache.opts())).details.subscribers === "0", "the subscription is gone", 5_000);
  });

  test("Stream: Append and a server-streaming Read", async () => {
    for (let i = 0; i < 3; i++) expect((await def.stream.append({ stream: "fw-stream", payload: utf8(`r${i}`) }, def.opts())).success).toBe(true);
    const recs = await Array.fromAsync(def.stream.read({ stream: "fw-stream", maxRecords: 3 }, def.opts()));
    expect(recs.map((r) => text(r.payload))).toEqual(["r0", "r1", "r2"]);
  });

  test("two namespaces on separate patterns cannot see each other's keys", async () => {
    await def.kv.set({ key: "iso:k", value: utf8("default") }, def.opts());
    expect((await cache.kv.get({ key: "iso:k" }, cache.opts())).found).toBe(false);
    await cache.kv.set({ key: "iso:k", value: utf8("cache") }, cache.opts());
    expect(text((await def.kv.get({ key: "iso:k" }, def.opts())).value)).toBe("default");
    expect(text((await cache.kv.get({ key: "iso:k" }, cache.opts())).value)).toBe("cache");
    expect((await Array.fromAsync(cache.scan.scanKeys({ prefix: "scan:" }, cache.opts()))).length).toBe(0);
    const [d, c] = [await proxy.pattern("default"), await proxy.pattern("cache")];
    expect(d.pid).not.toBe(c.pid);
  });

  test("an unknown namespace is NOT_FOUND naming it, quickly", async () => {
    const start = performance.now();
    const r = await codeOf(() => def.kv.get({ key: "x" }, def.opts({ metadata: { "x-prism-namespace": "nope" } })));
    expect(r.code).toBe(Code.NOT_FOUND);
    expect(r.message).toBe('namespace "nope" is not configured');
    const s = await codeOf(() => def.scan.scan({ prefix: "" }, def.opts({ metadata: { "x-prism-namespace": "nope" } })));
    expect(s.code).toBe(Code.NOT_FOUND);
    expect(performance.now() - start).toBeLessThan(2_000);
  });

  test("pattern errors keep their code and message (INVALID_ARGUMENT for an empty key)", async () => {
    const r = await codeOf(() => def.kv.set({ key: "", value: utf8("v") }, def.opts()));
    expect(r.code).toBe(Code.INVALID_ARGUMENT);
    expect(r.message).toMatch(/key/);
  });

  test("lifecycle control is refused to clients; HealthCheck is allowed", async () => {
    const r = await codeOf(() => def.lifecycle.stop({ timeoutSeconds: 1 }, def.opts()));
    expect(r.code).toBe(Code.PERMISSION_DENIED);
    expect((await def.lifecycle.healthCheck({}, def.opts())).details.state).toBe("serving");
    expect((await proxy.pattern("default")).status).toBe("serving");
  });

  test("grpc.health.v1 answers for the proxy and per namespace", async () => {
    expect((await def.health.check({ service: "" }, def.opts())).status).toBe(HealthCheckResponse_ServingStatus.SERVING);
    expect((await def.health.check({ service: "cache" }, def.opts())).status).toBe(HealthCheckResponse_ServingStatus.SERVING);
    expect((await codeOf(() => def.health.check({ service: "nope" }, def.opts()))).code).toBe(Code.NOT_FOUND);
  });

  test("grpc.reflection lists the data services (what `grpcurl -plaintext ADDR list` shows)", async () => {
    const reflection = createClient(ServerReflection, proxy.address);
    try {
      const requests = (async function* () {
        yield { messageRequest: { case: "listServices" as const, value: "" } };
      })();
      const replies = await Array.fromAsync(reflection.client.serverReflectionInfo(requests, { timeoutMs: 10_000 }));
      const first = replies[0]?.messageResponse;
      const names = first?.case === "listServicesResponse" ? first.value.service.map((s) => s.name) : [];
      expect(names).toContain("prism.interfaces.keyvalue.KeyValueBasicInterface");
      expect(names).toContain("prism.interfaces.pubsub.PubSubBasicInterface");
      expect(names).toContain("grpc.health.v1.Health");
    } finally {
      reflection.close();
    }
  });

  test("/metrics has per-namespace request metrics and /ready is ready", async () => {
    await cache.kv.get({ key: "metric" }, cache.opts());
    const m = await proxy.metrics();
    expect(m).toMatch(/prism_requests_total\{namespace="cache",pattern="memstore",method="Get",code="OK"\} [1-9]/);
    expect(m).toMatch(/prism_request_duration_seconds_count\{namespace="cache",pattern="memstore",method="Get"\} [1-9]/);
    expect(m).toMatch(/prism_pattern_restarts_total\{namespace="default",pattern="memstore"\} 0/);
    expect(m).toMatch(/prism_pattern_up\{namespace="cache",pattern="memstore"\} 1/);
    const ready = await fetch(`${proxy.admin}/ready`);
    expect(ready.status).toBe(200);
    expect((await fetch(`${proxy.admin}/health`)).status).toBe(200);
  });
});
