import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { create } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { KeyValueBasicInterface } from "../proto/gen/prism/interfaces/keyvalue/keyvalue_basic_pb";
import { KeyValueBatchInterface } from "../proto/gen/prism/interfaces/keyvalue/keyvalue_batch_pb";
import { KeyValueScanInterface } from "../proto/gen/prism/interfaces/keyvalue/keyvalue_scan_pb";
import { KeyValueTTLInterface } from "../proto/gen/prism/interfaces/keyvalue/keyvalue_ttl_pb";
import { PatternMetadataSchema } from "../proto/gen/prism/interfaces/lifecycle_pb";
import { PubSubBasicInterface } from "../proto/gen/prism/interfaces/pubsub/pubsub_basic_pb";
import { createClient } from "../sdk/grpc/client";
import { addService } from "../sdk/grpc/server";
import { bindServer, serverOptions } from "../sdk/grpc/server_factory";
import { createLogger } from "../sdk/observability/logger";
import { CLIENT_SERVICES } from "./client_services";
import { DeprecatedCalls } from "./deprecation";
import { H2Listener } from "./h2/listener";
import { Upstream } from "./h2/upstream";
import { ProxyMetrics } from "./metrics";
import { PatternInstance, PatternRegistry } from "./pattern_registry";
import { Router } from "./router";

describe("deprecated services", () => {
  test("the key-value and pub/sub interface services are marked deprecated; their paths and messages are the contract's (the option changes no wire byte)", () => {
    const deprecated = CLIENT_SERVICES.filter((s) => s.deprecated).map((s) => s.typeName);
    expect(deprecated.sort()).toEqual([
      "prism.interfaces.keyvalue.KeyValueBasicInterface",
      "prism.interfaces.keyvalue.KeyValueBatchInterface",
      "prism.interfaces.keyvalue.KeyValueScanInterface",
      "prism.interfaces.keyvalue.KeyValueTTLInterface",
      "prism.interfaces.pubsub.PubSubBasicInterface",
    ]);
    const sig = [KeyValueBasicInterface, KeyValueTTLInterface, KeyValueScanInterface, KeyValueBatchInterface].flatMap((s) =>
      s.methods.map((m) => `/${s.typeName}/${m.name} ${m.input.typeName} -> ${m.output.typeName}`),
    );
    expect(sig).toContain(
      "/prism.interfaces.keyvalue.KeyValueBasicInterface/Set prism.interfaces.keyvalue.SetRequest -> prism.interfaces.keyvalue.SetResponse",
    );
    expect(sig).toContain(
      "/prism.interfaces.keyvalue.KeyValueTTLInterface/GetTTL prism.interfaces.keyvalue.GetTTLRequest -> prism.interfaces.keyvalue.GetTTLResponse",
    );
    expect(KeyValueBasicInterface.methods.map((m) => m.name)).toEqual(["Set", "Get", "Delete", "Exists"]);
    expect(PubSubBasicInterface.methods.map((m) => `/${PubSubBasicInterface.typeName}/${m.name} ${m.input.typeName} -> ${m.output.typeName}`)).toEqual([
      "/prism.interfaces.pubsub.PubSubBasicInterface/Publish prism.interfaces.pubsub.PublishRequest -> prism.interfaces.pubsub.PublishResponse",
      "/prism.interfaces.pubsub.PubSubBasicInterface/Subscribe prism.interfaces.pubsub.SubscribeRequest -> prism.interfaces.pubsub.Message",
      "/prism.interfaces.pubsub.PubSubBasicInterface/Unsubscribe prism.interfaces.pubsub.UnsubscribeRequest -> prism.interfaces.pubsub.UnsubscribeResponse",
    ]);
    // Field numbers of the messages existing clients send (contract §1).
    const set = KeyValueBasicInterface.methods[0]!.input;
    expect(set.fields.map((f) => [f.name, f.number])).toEqual([
      ["key", 1],
      ["value", 2],
      ["tags", 3],
      ["ttl_seconds", 4],
    ]);
  });

  describe("through the router", () => {
    const metrics = new ProxyMetrics("test");
    const registry = new PatternRegistry();
    const lines: Record<string, unknown>[] = [];
    const logger = createLogger({ level: "info", format: "json", write: (l) => lines.push(JSON.parse(l)) });
    let backend: grpc.Server;
    let listener: H2Listener;
    let address = "";
    beforeAll(async () => {
      backend = new grpc.Server(serverOptions);
      addService(backend, KeyValueBasicInterface, {
        get: () => ({ found: false }),
        set: () => ({ success: true }),
        delete: () => ({ success: true }),
        exists: () => ({ exists: false }),
      });
      const port = await bindServer(backend, "127.0.0.1", 0);
      const ns = new PatternInstance("legacy", "memstore", "launched", metrics.namespace("legacy", "memstore"));
      ns.serve(
        new Upstream(`127.0.0.1:${port}`),
        `127.0.0.1:${port}`,
        create(PatternMetadataSchema, { name: "memstore", interfaces: [{ name: KeyValueBasicInterface.typeName }] }),
      );
      registry.add(ns);
      const router = new Router(
        registry,
        new Upstream("127.0.0.1:1"),
        metrics,
        undefined,
        undefined,
        new DeprecatedCalls(CLIENT_SERVICES, metrics.registry, logger),
      );
      listener = new H2Listener(router.handle);
      address = `127.0.0.1:${await listener.listen({ host: "127.0.0.1", port: 0 })}`;
    });
    afterAll(() => {
      listener?.destroy();
      for (const i of registry.all()) i.unserve("stopped");
      backend?.forceShutdown();
    });

    test("counted per namespace and method in prism_deprecated_requests_total; one log line per caller and service", async () => {
      const md = { metadata: { "x-prism-namespace": "legacy" }, timeoutMs: 5_000 };
      const a = createClient(KeyValueBasicInterface, address, undefined, { "grpc.primary_user_agent": "app-a/1.0" });
      const b = createClient(KeyValueBasicInterface, address, undefined, { "grpc.primary_user_agent": "app-b/2.0" });
      try {
        for (let i = 0; i < 3; i++) await a.client.set({ key: "k", value: new Uint8Array() }, md);
        await a.client.get({ key: "k" }, md);
        await b.client.get({ key: "k" }, md);
      } finally {
        a.close();
        b.close();
      }
      const text = await metrics.registry.metrics();
      expect(text).toContain('prism_deprecated_requests_total{namespace="legacy",service="prism.interfaces.keyvalue.KeyValueBasicInterface",method="Set"} 3');
      expect(text).toContain('prism_deprecated_requests_total{namespace="legacy",service="prism.interfaces.keyvalue.KeyValueBasicInterface",method="Get"} 2');
      const warned = lines.filter((l) => l.msg === "deprecated service called");
      expect(warned).toHaveLength(2);
      expect(warned.map((l) => String(l.caller)).sort()).toEqual([
        expect.stringMatching(/^127\.0\.0\.1 app-a\/1\.0 /),
        expect.stringMatching(/^127\.0\.0\.1 app-b\/2\.0 /),
      ]);
      expect(warned[0]).toMatchObject({
        level: "warn",
        namespace: "legacy",
        service: "prism.interfaces.keyvalue.KeyValueBasicInterface",
        replacement: "prism.patterns.keyvalue.KeyValuePattern",
      });
    });

    test("called directly: one log line per user agent on a connection, counts added up across scrapes", async () => {
      const own = new ProxyMetrics("t").registry;
      const d = new DeprecatedCalls(CLIENT_SERVICES, own, logger);
      const session = { socket: { remoteAddress: "10.0.0.9" } };
      const stream = { session } as never;
      const get = "/prism.interfaces.keyvalue.KeyValueBasicInterface/Get";
      const before = lines.length;
      for (let i = 0; i < 3; i++) d.observe(get, "ns", stream, { "user-agent": "envoy-app-a" });
      d.observe(get, "ns", stream, { "user-agent": "envoy-app-b" });
      expect(lines.slice(before).map((l) => l.caller)).toEqual(["10.0.0.9 envoy-app-a", "10.0.0.9 envoy-app-b"]);
      const series = 'prism_deprecated_requests_total{namespace="ns",service="prism.interfaces.keyvalue.KeyValueBasicInterface",method="Get"}';
      expect(await own.metrics()).toContain(`${series} 4`);
      d.observe(get, "ns", { session: { socket: { remoteAddress: "10.0.0.9" } } } as never, { "user-agent": "envoy-app-a" });
      // A new connection of a caller already logged: counted, not logged again.
      expect(lines.length).toBe(before + 2);
      expect(await own.metrics()).toContain(`${series} 5`);
      expect(await own.metrics()).toContain(`${series} 5`);
    });

    test("a pattern service is not counted", async () => {
      const own = new ProxyMetrics("t").registry;
      const d = new DeprecatedCalls(CLIENT_SERVICES, own, logger);
      const before = lines.length;
      d.observe("/prism.patterns.keyvalue.KeyValuePattern/Store", "ns", { session: undefined } as never, {});
      expect(lines.length).toBe(before);
      expect(await own.metrics()).not.toContain("prism_deprecated_requests_total{");
    });
  });
});
