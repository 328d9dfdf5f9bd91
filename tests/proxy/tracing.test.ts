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
});
