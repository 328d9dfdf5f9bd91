import { afterAll, describe, expect, test } from "bun:test";
import * as grpc from "@grpc/grpc-js";
import { context, trace } from "@opentelemetry/api";
import { InMemorySpanExporter } from "@opentelemetry/sdk-trace-base";
import { KeyValueBasicInterface } from "../../proto/gen/prism/interfaces/keyvalue/keyvalue_basic_pb";
import { createClient } from "../grpc/client";
import { Code, PrismError } from "../errors";
import { addService } from "../grpc/server";
import { bindServer, serverOptions } from "../grpc/server_factory";
import { startHttpServer } from "./http_server";
import { createLogger } from "./logger";
import { Metrics } from "./metrics";
import { injectTraceHeaders, Tracing } from "./tracing";

const exporter = new InMemorySpanExporter();
const tracing = new Tracing({ serviceName: "test", serviceVersion: "0", exporter: "none", exporterOverride: exporter });
const metrics = new Metrics({ name: "testpattern", version: "0.0.1" });
const servers: grpc.Server[] = [];

afterAll(() => servers.forEach((s) => s.forceShutdown()));

async function startServer(): Promise<string> {
  const server = new grpc.Server(serverOptions);
  servers.push(server);
  addService(
    server,
    KeyValueBasicInterface,
    {
      set: () => {
        // A child span inside the handler must link to the RPC's server span.
        tracing.tracer.startActiveSpan("child", (span) => span.end());
        return { success: true };
      },
      get: () => ({ found: false }),
      delete: () => {
        throw new PrismError(Code.NOT_FOUND, "nope");
      },
      exists: () => ({ exists: true }),
    },
    [metrics.interceptor(), tracing.interceptor()],
  );
  return `127.0.0.1:${await bindServer(server, "127.0.0.1", 0)}`;
}

describe("metrics", () => {
  test("the interceptor counts calls by namespace, method and code", async () => {
    const { client, close } = createClient(KeyValueBasicInterface, await startServer());
    await client.get({ key: "a" });
    await client.get({ key: "a" }, { metadata: { "x-prism-namespace": "ns1" } });
    await client.delete({ key: "a" }).catch(() => {});
    close();
    const text = await metrics.registry.metrics();
    expect(text).toContain('prism_requests_total{namespace="default",pattern="testpattern",method="Get",code="OK"} 1');
    expect(text).toContain('prism_requests_total{namespace="ns1",pattern="testpattern",method="Get",code="OK"} 1');
    expect(text).toContain('prism_requests_total{namespace="default",pattern="testpattern",method="Delete",code="NOT_FOUND"} 1');
    expect(text).toMatch(/prism_request_duration_seconds_count\{namespace="default",pattern="testpattern",method="Get"\} 1/);
    expect(text).toContain('backend_driver_info{name="testpattern",version="0.0.1"} 1');
    expect(text).toContain("process_cpu_seconds_total");
  });

  test("namespace label values are bounded: past 64 distinct ones, the rest count as other", async () => {
    const m = new Metrics({ name: "bounded", version: "1" });
    for (let i = 0; i < 100; i++) m.record(`ns-${i}`, "Get", 0, 0.001);
    const text = await m.registry.metrics();
    const namespaces = new Set([...text.matchAll(/prism_requests_total\{namespace="([^"]+)"/g)].map((x) => x[1]));
    expect(namespaces.size).toBe(65);
    expect(text).toContain('prism_requests_total{namespace="other",pattern="bounded",method="Get",code="OK"} 36');
  });

  test("HTTP /health, /ready, /metrics and extra routes", async () => {
    let ready = false;
    const http = startHttpServer(0, metrics.registry, { live: () => true, ready: () => ready, routes: { "/x": () => ({ a: 1 }) } }, "127.0.0.1");
    const base = `http://127.0.0.1:${http.port}`;
    expect((await fetch(`${base}/health`)).status).toBe(200);
    expect((await fetch(`${base}/ready`)).status).toBe(503);
    ready = true;
    expect(await (await fetch(`${base}/ready`)).json()).toEqual({ status: "ready" });
    expect(await (await fetch(`${base}/metrics`)).text()).toContain("prism_requests_total");
    expect(await (await fetch(`${base}/x`)).json()).toEqual({ a: 1 });
    expect((await fetch(`${base}/nope`)).status).toBe(404);
    http.stop();
  });
});

describe("tracing", () => {
  test("a server span per RPC, child of the caller's traceparent, with the handler's span as its child", async () => {
    exporter.reset();
    const { client, close } = createClient(KeyValueBasicInterface, await startServer());
    const caller = tracing.tracer.startSpan("caller");
    const headers = context.with(trace.setSpan(context.active(), caller), () => injectTraceHeaders({}));
    expect(headers.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    await client.set({ key: "k" }, { metadata: headers });
    caller.end();
    close();
    await tracing.flush();
    const spans = exporter.getFinishedSpans();
    const server = spans.find((s) => s.name === "prism.interfaces.keyvalue.KeyValueBasicInterface/Set")!;
    const child = spans.find((s) => s.name === "child")!;
    expect(server).toBeDefined();
    expect(child).toBeDefined();
    expect(server.spanContext().traceId).toBe(caller.spanContext().traceId);
    expect(server.parentSpanContext?.spanId).toBe(caller.spanContext().spanId);
    expect(child.parentSpanContext?.spanId).toBe(server.spanContext().spanId);
    expect(server.attributes["rpc.system"]).toBe("grpc");
    expect(server.attributes["rpc.method"]).toBe("Set");
    expect(server.attributes["rpc.grpc.status_code"]).toBe(0);
  });

  test("the otlp exporter really sends OTLP/HTTP to the collector", async () => {
    const bodies: { path: string; type: string | null; size: number }[] = [];
    const collector = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      async fetch(req) {
        const body = new Uint8Array(await req.arrayBuffer());
        bodies.push({ path: new URL(req.url).pathname, type: req.headers.get("content-type"), size: body.byteLength });
        return new Response("{}", { headers: { "content-type": "application/json" } });
      },
    });
    const t = new Tracing({ serviceName: "otlp-test", serviceVersion: "1", exporter: "otlp", otlpEndpoint: `http://127.0.0.1:${collector.port}/v1/traces` });
    t.tracer.startSpan("exported").end();
    await t.shutdown();
    collector.stop(true);
    expect(bodies.length).toBeGreaterThan(0);
    expect(bodies[0]!.path).toBe("/v1/traces");
    expect(bodies[0]!.size).toBeGreaterThan(0);
  });
});

describe("logger", () => {
  test("JSON lines with level filtering and child fields", () => {
    const lines: string[] = [];
    const log = createLogger({ level: "info", write: (l) => lines.push(l), fields: { component: "t" } });
    log.debug("hidden");
    log.child({ ns: "a" }).warn("careful", { err: new Error("bad") });
    expect(lines.length).toBe(1);
    const rec = JSON.parse(lines[0]!);
    expect(rec).toMatchObject({ level: "warn", msg: "careful", component: "t", ns: "a", err: { message: "bad" } });
    expect(log.debugEnabled).toBe(false);
  });
});
