import { describe, expect, setSystemTime, test } from "bun:test";
import { Registry } from "prom-client";
import { DriverMetrics, instrumentDriver } from "../sdk/drivers/instrument";
import { DEFAULT_EMULATION } from "../sdk/emulation/policy";
import { capabilitiesOf } from "../sdk/emulation/capabilities";
import { emulateKeyValue } from "../sdk/emulation/keyvalue";
import { DEFAULT_LIMITS } from "../sdk/services/limits";
import { memstorePattern } from "./pattern";
import { DEFAULT_MEMSTORE_CONFIG, MemStore } from "./memstore";

const enc = (s: string) => new TextEncoder().encode(s);

describe("MemStore driver", () => {
  test("health is degraded at capacity and reports the counters", async () => {
    const store = new MemStore({ ...DEFAULT_MEMSTORE_CONFIG, maxKeys: 2, maxLists: 1 });
    store.set("a", enc("1"), 0);
    store.set("t", enc("1"), 100);
    let h = store.health();
    expect(h.status).toBe("degraded");
    expect(h.message).toContain("2 of max_keys 2");
    expect(h.details).toMatchObject({ keys: "2", max_keys: "2", keys_with_ttl: "1", lists: "0", max_lists: "1" });
    store.delete("a");
    expect(store.health().status).toBe("healthy");
    store.pushRight("l", [enc("x"), enc("y")]);
    h = store.health();
    expect(h.status).toBe("degraded");
    expect(h.details).toMatchObject({ lists: "1", list_items: "2" });
    await store.close();
  });

  test("health sweeps at most sweep_limit expired keys and says when some remain", async () => {
    const T0 = Date.UTC(2030, 0, 1);
    setSystemTime(T0);
    const store = new MemStore({ ...DEFAULT_MEMSTORE_CONFIG, maxKeys: 100, sweepLimit: 10 });
    try {
      for (let i = 0; i < 100; i++) store.set(`k${i}`, enc("v"), 1);
      setSystemTime(T0 + 1000);
      let h = store.health();
      expect(h.details).toMatchObject({ keys: "90", expiry_backlog: "true" });
      expect(h.status).toBe("healthy");
      for (let i = 0; i < 8; i++) store.health();
      h = store.health();
      expect(h.details).toMatchObject({ keys: "0", expiry_backlog: "false", expired_keys_total: "100" });
    } finally {
      setSystemTime();
      await store.close();
    }
  });

  test("health is degraded at max_streams", async () => {
    const store = new MemStore({ ...DEFAULT_MEMSTORE_CONFIG, maxStreams: 1 });
    store.append("s", enc("x"), {}, "");
    const h = store.health();
    expect(h.status).toBe("degraded");
    expect(h.message).toContain("1 of max_streams 1 streams");
    expect(h.details).toMatchObject({ streams: "1", max_streams: "1" });
    store.trim("s", 0, 1);
    expect(store.health().status).toBe("healthy");
    await store.close();
  });

  test("health shows pub/sub drops per topic and stream counters", async () => {
    const store = new MemStore({ ...DEFAULT_MEMSTORE_CONFIG, subscriberBuffer: 1 });
    const ac = new AbortController();
    store.subscribe({ topic: "news", subscriberId: "s", options: {}, signal: ac.signal });
    for (let i = 0; i < 4; i++) store.publish("news", enc(String(i)), {}, "");
    store.append("log", enc("r"), {}, "");
    const d = store.health().details!;
    expect(d).toMatchObject({ topics: "1", subscribers: "1", published_messages_total: "4", dropped_messages_total: "3", streams: "1", stream_records: "1" });
    expect(d['dropped_messages_total{topic="news"}']).toBe("3");
    ac.abort();
    await store.close();
  });

  test("exports pub/sub drops and buffered messages on the registry it is given, until closed", async () => {
    const registry = new Registry();
    const store = new MemStore({ ...DEFAULT_MEMSTORE_CONFIG, subscriberBuffer: 2 }, registry);
    const ac = new AbortController();
    store.subscribe({ topic: "news", subscriberId: "s", options: {}, signal: ac.signal });
    for (let i = 0; i < 5; i++) store.publish("news", enc(String(i)), {}, "");
    let text = await registry.metrics();
    expect(text).toContain('prism_subscriber_dropped_messages_total{driver="memstore",topic="news"} 3');
    expect(text).toContain('prism_subscriber_buffered_messages{driver="memstore"} 2');
    expect(store.health().details?.buffered_messages).toBe("2");
    ac.abort();
    await store.close();
    text = await registry.metrics();
    expect(text).toContain('prism_subscriber_dropped_messages_total{driver="memstore",topic="news"} 3');
    expect(text).not.toContain("prism_subscriber_buffered_messages{");
  });

  test("works through the SDK's instrumentDriver facade, streaming methods included", async () => {
    const metrics = new DriverMetrics(new Registry());
    const methods = memstorePattern.bindings.flatMap((b) => b.driverMethods);
    const store = new MemStore();
    const d = instrumentDriver(store, methods, { driver: "memstore", dbSystem: "memstore", metrics });
    d.set("k1", enc("v"), 0);
    d.set("k2", enc("v"), 0);
    expect(d.exists("k1")).toBe(true);
    const keys = [...d.scan({ prefix: "k", limit: 0, cursor: "", withValues: false, signal: new AbortController().signal })].map((e) => e.key);
    expect(keys).toEqual(["k1", "k2"]);
    d.append("s", enc("r"), {}, "");
    const recs = await Array.fromAsync(
      d.read({ stream: "s", partition: 0, fromOffset: 0, fromTimestamp: 0, maxRecords: 0, follow: false, signal: new AbortController().signal }),
    );
    expect(recs.length).toBe(1);
    expect(d.health().details?.keys).toBe("2");
    const text = await metrics.operations.get();
    expect(text.values.find((v) => v.labels.operation === "set" && v.labels.status === "success")?.value).toBe(2);
    // Streams are counted when they end; scan stays a sync iterator.
    expect(text.values.find((v) => v.labels.operation === "scan" && v.labels.status === "success")?.value).toBe(1);
    expect(text.values.find((v) => v.labels.operation === "read" && v.labels.status === "success")?.value).toBe(1);
    await d.close();
    expect(store.kv.size).toBe(0);
  });

  test("the pattern declares all seven interfaces plus KeyValuePattern and validates its config", () => {
    expect(memstorePattern.bindings.map((b) => b.interfaceName).sort()).toEqual([
      "keyvalue_basic",
      "keyvalue_batch",
      "keyvalue_pattern",
      "keyvalue_scan",
      "keyvalue_ttl",
      "list_basic",
      "pubsub_basic",
      "stream_basic",
    ]);
    expect(() =>
      memstorePattern.create({ bogus: 1 }, { configFile: "c.yaml", namespace: "", logger: undefined as never, registry: undefined as never }),
    ).toThrow(/bogus: unknown key/);
  });
});

describe("MemStore tags and versions through the emulation layer", () => {
  const wrapped = (expiration: "auto" | "force") =>
    emulateKeyValue(new MemStore(), { policy: { ...DEFAULT_EMULATION, expiration }, limits: DEFAULT_LIMITS, namespace: "t" }) as unknown as MemStore;

  test("tags are kept with the value until a plain write; capabilities report tags only when nothing is emulated", async () => {
    const kv = wrapped("auto");
    expect(capabilitiesOf(kv)).toMatchObject({ tags: true, conditionalWrites: true });
    const v1 = kv.setVersioned("k", new Uint8Array([1]), 0, undefined, undefined, { team: "a" });
    expect(kv.getVersioned("k")).toEqual({ value: new Uint8Array([1]), version: v1, tags: { team: "a" } });
    const scanned = await Array.fromAsync(kv.scan({ prefix: "", limit: 0, cursor: "", withValues: true, signal: new AbortController().signal }));
    expect(scanned).toEqual([{ key: "k", value: new Uint8Array([1]), tags: { team: "a" } }]);
    kv.set("k", new Uint8Array([2]), 0);
    expect(kv.getVersioned("k")?.tags).toBeUndefined();
    expect(kv.getVersioned("k")?.version).not.toBe(v1);
    expect(capabilitiesOf(wrapped("force"))).toMatchObject({ tags: false, conditionalWrites: true });
  });
});
