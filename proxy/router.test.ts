import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { create } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { KeyValueBasicInterface } from "../proto/gen/prism/interfaces/keyvalue/keyvalue_basic_pb";
import { Health } from "../proto/gen/grpc/health/v1/health_pb";
import { LifecycleInterface, PatternMetadataSchema } from "../proto/gen/prism/interfaces/lifecycle_pb";
import { ListBasicInterface } from "../proto/gen/prism/interfaces/list/list_basic_pb";
import { createClient } from "../sdk/grpc/client";
import { Code, PrismError } from "../sdk/grpc/errors";
import { HealthService, Serving } from "../sdk/grpc/health";
import { addService } from "../sdk/grpc/server";
import { bindServer, serverOptions } from "../sdk/grpc/server_factory";
import { H2Listener } from "./h2/listener";
import { Upstream } from "./h2/upstream";
import { ProxyMetrics } from "./metrics";
import { PatternInstance, PatternRegistry } from "./pattern_registry";
import { Router } from "./router";

async function codeOf(call: () => Promise<unknown>): Promise<[number, string]> {
  try {
    await call();
    return [Code.OK, ""];
  } catch (err) {
    const e = PrismError.from(err);
    return [e.code, e.message];
  }
}

describe("router", () => {
  const metrics = new ProxyMetrics("test");
  const registry = new PatternRegistry();
  let backend: grpc.Server;
  /** Stands in for the proxy's local server (grpc.health.v1). */
  let localServer: grpc.Server;
  const health = new HealthService(Serving.SERVING);
  let listener: H2Listener;
  let router: Router;
  let clients: ReturnType<typeof createClient<typeof KeyValueBasicInterface>>;
  const opts = (ns?: string) => ({ metadata: ns ? { "x-prism-namespace": ns } : undefined, timeoutMs: 5_000 });

  beforeAll(async () => {
    backend = new grpc.Server(serverOptions);
    addService(backend, KeyValueBasicInterface, {
      get: (req) => ({ found: true, value: new TextEncoder().encode(req.key) }),
      set: () => ({ success: true }),
      delete: () => ({ success: true }),
      exists: () => ({ exists: true }),
    });
    const port = await bindServer(backend, "127.0.0.1", 0);
    const serving = new PatternInstance("default", "memstore", "launched", metrics.namespace("default", "memstore"));
    serving.serve(
      new Upstream(`127.0.0.1:${port}`),
      `127.0.0.1:${port}`,
      create(PatternMetadataSchema, { name: "memstore", interfaces: [{ name: KeyValueBasicInterface.typeName }] }),
    );
    registry.add(serving);
    registry.add(new PatternInstance("starting", "memstore", "launched", metrics.namespace("starting", "memstore")));
    localServer = new grpc.Server(serverOptions);
    health.addTo(localServer);
    const localPort = await bindServer(localServer, "127.0.0.1", 0);
    router = new Router(registry, new Upstream(`127.0.0.1:${localPort}`), metrics);
    listener = new H2Listener(router.handle);
    const lport = await listener.listen({ host: "127.0.0.1", port: 0 });
    clients = createClient(KeyValueBasicInterface, `127.0.0.1:${lport}`);
  });
  afterAll(() => {
    clients?.close();
    listener?.destroy();
    for (const i of registry.all()) i.unserve("stopped");
    backend?.forceShutdown();
    health.close();
    localServer?.forceShutdown();
  });

  test("no namespace header means default; the call is forwarded and counted", async () => {
    const r = await clients.client.get({ key: "hi" }, opts());
    expect(new TextDecoder().decode(r.value)).toBe("hi");
    expect(await metrics.registry.metrics()).toMatch(/prism_requests_total\{namespace="default",pattern="memstore",method="Get",code="OK"\} 1/);
  });

  test("unknown namespace: NOT_FOUND naming it", async () => {
    expect(await codeOf(() => clients.client.get({ key: "x" }, opts("ghost")))).toEqual([Code.NOT_FOUND, 'namespace "ghost" is not configured']);
  });

  test("a namespace whose pattern is not serving: UNAVAILABLE with its status, counted without a latency", async () => {
    expect(await codeOf(() => clients.client.get({ key: "x" }, opts("starting")))).toEqual([
      Code.UNAVAILABLE,
      'namespace "starting" (pattern memstore) is starting; retry later',
    ]);
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/prism_requests_total\{namespace="starting",pattern="memstore",method="Get",code="UNAVAILABLE"\} 1/);
    // Answered before forwarding: a 0 s sample would drag the latency percentiles down.
    expect(text).not.toMatch(/prism_request_duration_seconds_count\{namespace="starting"/);
  });

  test("a health Watch relayed to the proxy's own server is not a call in flight: idle() does not wait for it", async () => {
    const watch = createClient(Health, clients.raw).client.watch({ service: "" }, { timeoutMs: 30_000 });
    const it = watch[Symbol.asyncIterator]();
    expect((await it.next()).value?.status).toBe(Serving.SERVING);
    expect(router.callsInFlight).toBe(0);
    const start = Date.now();
    expect(await router.idle(3_000)).toBe(true);
    expect(Date.now() - start).toBeLessThan(1_000);
    // The local server ends it at shutdown, with UNAVAILABLE (watch again).
    health.close();
    expect(await it.next().catch((e) => e.code)).toBe(Code.UNAVAILABLE);
  });

  test("a service the pattern did not declare: UNIMPLEMENTED naming it", async () => {
    const list = createClient(ListBasicInterface, clients.raw).client;
    expect(await codeOf(() => list.length({ key: "l" }, opts()))).toEqual([
      Code.UNIMPLEMENTED,
      'namespace "default" (pattern memstore) does not implement prism.interfaces.list.ListBasicInterface',
    ]);
    const text = await metrics.registry.metrics();
    expect(text).toMatch(/prism_requests_total\{namespace="default",pattern="memstore",method="Length",code="UNIMPLEMENTED"\} 1/);
    expect(text).not.toMatch(/prism_request_duration_seconds_count\{namespace="default",pattern="memstore",method="Length"/);
  });

  test("lifecycle control is not open to clients", async () => {
    const lc = createClient(LifecycleInterface, clients.raw).client;
    const [code, message] = await codeOf(() => lc.drain({ timeoutSeconds: 1 }, opts()));
    expect(code).toBe(Code.PERMISSION_DENIED);
    expect(message).toContain("LifecycleInterface/Drain");
  });

  test("after stopAccepting every call is UNAVAILABLE", async () => {
    router.stopAccepting();
    expect(await codeOf(() => clients.client.get({ key: "x" }, opts()))).toEqual([Code.UNAVAILABLE, "proxy is shutting down"]);
    expect(await router.idle(100)).toBe(true);
  });
});
