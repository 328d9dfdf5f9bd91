/**
 * Tracing through the proxy: with --enable-tracing the proxy opens a span per
 * forwarded call, child of the client's traceparent, and hands its own context on,
 * so the pattern's span (exported by the pattern, launched with tracing too) is its child.
 */
import { describe, expect, test } from "bun:test";
import { clientsFor, eventually, killIfAlive, startProxy } from "./harness";

interface ExportedSpan {
  service: string;
  name: string;
  id: string;
  traceId: string;
  parentId?: string;
}

/** Spans printed by the OpenTelemetry console exporter (one object literal per span, at column 0). */
function spansIn(output: string): ExportedSpan[] {
  const blocks = output.split(/\n(?=\{\n)/).filter((b) => b.startsWith("{\n") && b.includes("traceId:"));
  return blocks.map((b) => ({
    service: /"service\.name": "([^"]+)"/.exec(b)?.[1] ?? "",
    name: /\n {2}name: "([^"]+)"/.exec(b)?.[1] ?? "",
    id: /\n {2}id: "([0-9a-f]+)"/.exec(b)?.[1] ?? "",
    traceId: /\n {2}traceId: "([0-9a-f]+)"/.exec(b)?.[1] ?? "",
    parentId: /parentSpanContext: \{[^}]*spanId: "([0-9a-f]+)"/.exec(b)?.[1],
  }));
}

describe("tracing through the proxy", () => {
  test("client → proxy span → pattern span share the trace, each the child of the one before", async () => {
    const proxy = await startProxy("namespaces:\n  - name: default\n    pattern: memstore\n", ["--enable-tracing", "--trace-exporter", "stdout"]);
    const pids = (await proxy.patterns()).map((p) => p.pid);
    const c = clientsFor(proxy.address);
    const traceId = "0af7651916cd43dd8448eb211c80319c";
    const clientSpan = "b7ad6b7169203331";
    try {
      await c.kv.get({ key: "traced" }, c.opts({ metadata: { traceparent: `00-${traceId}-${clientSpan}-01` } }));
      const path = "prism.interfaces.keyvalue.KeyValueBasicInterface/Get";
      await eventually(() => spansIn(proxy.output()).filter((s) => s.traceId === traceId && s.name === path).length >= 2, "both spans are exported", 10_000);
      const spans = spansIn(proxy.output()).filter((s) => s.traceId === traceId);
      const proxySpan = spans.find((s) => s.service === "prism-proxy" && s.name === path)!;
      const patternSpan = spans.find((s) => s.service === "memstore" && s.name === path)!;
      expect(proxySpan.parentId).toBe(clientSpan);
      expect(patternSpan.parentId).toBe(proxySpan.id);
    } finally {
      c.close();
      await proxy.stop();
      proxy.cleanup();
      killIfAlive(pids);
    }
  }, 30_000);

  test("at a ratio the proxy decides new traces: the pattern traces exactly those, never one of its own", async () => {
    // The pattern inherits the sampler; it gets no traceparent for a new trace the proxy leaves out.
    const proxy = await startProxy("namespaces:\n  - name: default\n    pattern: memstore\n", ["--enable-tracing", "--trace-exporter", "stdout"], {
      OTEL_TRACES_SAMPLER: "parentbased_traceidratio",
      OTEL_TRACES_SAMPLER_ARG: "0.5",
    });
    const pids = (await proxy.patterns()).map((p) => p.pid);
    const c = clientsFor(proxy.address);
    const path = "prism.interfaces.keyvalue.KeyValueBasicInterface/Get";
    const calls = 60;
    try {
      for (let i = 0; i < calls; i++) await c.kv.get({ key: `ratio-${i}` }, c.opts());
    } finally {
      c.close();
      expect(await proxy.stop()).toBe(0); // flushes both processes' spans
      proxy.cleanup();
      killIfAlive(pids);
    }
    const spans = spansIn(proxy.output()).filter((s) => s.name === path);
    const ofProxy = spans.filter((s) => s.service === "prism-proxy");
    const ofPattern = spans.filter((s) => s.service === "memstore");
    // 30 expected; outside 8..52 with probability below 1e-6.
    expect(ofProxy.length).toBeGreaterThan(8);
    expect(ofProxy.length).toBeLessThan(52);
    expect(ofProxy.every((s) => s.parentId === undefined)).toBe(true);
    expect(ofPattern.map((s) => `${s.traceId}/${s.parentId}`).sort()).toEqual(ofProxy.map((s) => `${s.traceId}/${s.id}`).sort());
  }, 30_000);
});
