/**
 * OpenTelemetry as operators configure it, on the built executables: dist/proxy (and the memstore it
 * launches, which inherits the environment) with --trace-exporter otlp and only standard OTEL_* variables
 * export their spans to a collector stand-in over OTLP/gRPC, sampled as OTEL_TRACES_SAMPLER says.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { OtlpCollector } from "../helpers/otlp_collector";
import { clientsFor, killIfAlive, startProxy } from "./harness";

const PATH = "prism.interfaces.keyvalue.KeyValueBasicInterface/Get";

/** The proxy (and the memstore it launches) with `env` added to the environment. */
function proxyWithEnv(env: Record<string, string>) {
  return startProxy("namespaces:\n  - name: default\n    pattern: memstore\n", ["--enable-tracing", "--trace-exporter", "otlp"], env);
}

describe("OTLP export from dist/proxy and its pattern", () => {
  const collector = new OtlpCollector();
  beforeAll(() => collector.start());
  afterAll(() => collector.stop());

  test("OTEL_EXPORTER_OTLP_PROTOCOL=grpc + OTEL_EXPORTER_OTLP_ENDPOINT: proxy and pattern spans reach the collector", async () => {
    const proxy = await proxyWithEnv({
      OTEL_EXPORTER_OTLP_PROTOCOL: "grpc",
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${collector.grpcPort}`,
    });
    const pids = (await proxy.patterns()).map((p) => p.pid);
    const c = clientsFor(proxy.address);
    try {
      await c.kv.get({ key: "otlp" }, c.opts());
    } finally {
      c.close();
      expect(await proxy.stop()).toBe(0); // shutdown flushes what is buffered
      proxy.cleanup();
      killIfAlive(pids);
    }
    expect(await collector.waitFor("prism-proxy")).toBe(true);
    expect(await collector.waitFor("memstore")).toBe(true);
    const withPath = collector.containing(PATH);
    expect(withPath.length).toBeGreaterThanOrEqual(2);
    expect(withPath.every((r) => r.transport === "grpc")).toBe(true);
  }, 60_000);

  test("OTEL_TRACES_SAMPLER=parentbased_traceidratio, ARG=0: new traces are dropped, a sampled caller's trace is kept", async () => {
    const proxy = await proxyWithEnv({
      OTEL_EXPORTER_OTLP_PROTOCOL: "http/protobuf",
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${collector.httpPort}`,
      OTEL_TRACES_SAMPLER: "parentbased_traceidratio",
      OTEL_TRACES_SAMPLER_ARG: "0",
    });
    const pids = (await proxy.patterns()).map((p) => p.pid);
    const c = clientsFor(proxy.address);
    const sampledTrace = "0af7651916cd43dd8448eb211c80319c";
    const before = collector.received.length;
    try {
      for (let i = 0; i < 20; i++) await c.kv.get({ key: `unsampled-${i}` }, c.opts());
      await c.kv.get({ key: "sampled" }, c.opts({ metadata: { traceparent: `00-${sampledTrace}-b7ad6b7169203331-01` } }));
    } finally {
      c.close();
      expect(await proxy.stop()).toBe(0);
      proxy.cleanup();
      killIfAlive(pids);
    }
    const traceIdBytes = Buffer.from(sampledTrace, "hex");
    await collector.waitFor(PATH);
    const received = collector.received.slice(before);
    expect(received.length).toBeGreaterThan(0);
    expect(received.every((r) => r.transport === "http" && r.path === "/v1/traces" && r.contentType === "application/x-protobuf")).toBe(true);
    // Exactly the one sampled trace, nothing of the 20 others: its proxy and pattern RPC spans and the
    // pattern's backend-call span (memstore.get), all three with the caller's trace id.
    const total = (needle: Uint8Array) => received.map((r) => count(r.body, needle)).reduce((a, b) => a + b, 0);
    expect(total(new TextEncoder().encode(PATH))).toBe(2);
    expect(total(new TextEncoder().encode("memstore.get"))).toBe(1);
    expect(total(traceIdBytes)).toBe(3);
  }, 60_000);
});

function count(hay: Uint8Array, needle: Uint8Array): number {
  let n = 0;
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    n++;
  }
  return n;
}
