import { describe, expect, test } from "bun:test";
import { Registry } from "prom-client";
import { ConfigError, parseYaml } from "../config/yaml";
import type { Driver, InterfaceName, PubSubMessage } from "../drivers/interfaces";
import { DriverMetrics } from "../drivers/instrument";
import { DriverRegistry, type DriverFactory } from "../drivers/registry";
import { createLogger } from "../observability/logger";
import type { PatternDefinition } from "./pattern";
import { PatternRuntime } from "./runtime";
import { fillSlots, slotMetadata, type FilledSlots, type SlotDeclaration } from "./slots";

/** A tiny in-process driver: records its config and whether it was closed. */
class TestDriver implements Driver {
  readonly version = "1";
  closed = false;
  published: string[] = [];
  constructor(
    readonly name: string,
    readonly config: Record<string, unknown>,
  ) {}
  health = () => ({ status: "healthy" as const });
  async close() {
    this.closed = true;
  }
  publish(topic: string) {
    this.published.push(topic);
    return { messageId: String(this.published.length) };
  }
  async *subscribe(): AsyncIterable<PubSubMessage> {}
  unsubscribe = () => false;
}

const built: TestDriver[] = [];
const factory = (name: string, interfaces: InterfaceName[]): DriverFactory<TestDriver> => ({
  name,
  interfaces,
  create: (config) => {
    if (config.fail) throw new Error(`${name} cannot start`);
    const d = new TestDriver(name, config);
    built.push(d);
    return d;
  },
});

const drivers = DriverRegistry.of(factory("kv", ["keyvalue_basic", "keyvalue_scan", "pubsub_basic"]), factory("bus", ["pubsub_basic", "stream_basic"]));
const decls: SlotDeclaration[] = [
  { name: "registry", requires: ["keyvalue_basic", "keyvalue_scan"], description: "identities" },
  { name: "messaging", requires: ["pubsub_basic"], description: "delivery" },
  { name: "durability", requires: ["stream_basic"], optional: true, description: "queued messages" },
];
const quiet = createLogger({ level: "error", write: () => {} });

function fill(yaml: string, declared: SlotDeclaration[] = decls) {
  const src = parseYaml(yaml, "p.yaml");
  const registry = new Registry();
  return fillSlots((src.value as Record<string, unknown>).slots, {
    pattern: "demo",
    decls: declared,
    drivers,
    env: { logger: quiet, namespace: "ns", configFile: "p.yaml", lineOf: src.lineOf, registry },
    metrics: new DriverMetrics(registry),
  });
}

async function refusal(yaml: string, declared: SlotDeclaration[] = decls): Promise<ConfigError> {
  try {
    await fill(yaml, declared);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error("slots were filled but should have been refused");
}

describe("slots", () => {
  test("fills each slot with its configured driver and config; an optional slot may stay empty", async () => {
    const filled = await fill(`slots:\n  registry: {driver: kv, config: {a: 1}}\n  messaging: {driver: bus}\n`);
    expect([...filled.keys()]).toEqual(["registry", "messaging"]);
    expect(filled.get("registry")!.driverName).toBe("kv");
    expect((filled.get("registry")!.driver as TestDriver).config).toEqual({ a: 1 });
    expect(filled.get("messaging")!.interfaces).toEqual(["pubsub_basic", "stream_basic"]);
  });

  test("the driver is instrumented under its own name", async () => {
    const src = parseYaml(`slots:\n  registry: {driver: kv}\n  messaging: {driver: bus}\n`, "p.yaml");
    const registry = new Registry();
    const filled = await fillSlots((src.value as Record<string, unknown>).slots, {
      pattern: "demo",
      decls,
      drivers,
      env: { logger: quiet, namespace: "", configFile: "p.yaml", registry },
      metrics: new DriverMetrics(registry),
    });
    (filled.get("messaging")!.driver as TestDriver).publish("t");
    const text = await registry.metrics();
    expect(text).toContain('driver_operation_total{driver="bus",operation="publish",status="success"} 1');
  });

  test("a driver lacking a required interface is refused, naming slot, driver and interface, with the line", async () => {
    const err = await refusal(`slots:\n  registry: {driver: bus}\n  messaging: {driver: bus}\n`);
    expect(err.message).toContain('slot "registry": driver "bus" does not implement required interface keyvalue_basic, keyvalue_scan');
    expect(err.key).toBe("slots.registry.driver");
    expect(err.line).toBe(2);
  });

  test("unknown slot, unknown driver and a missing required slot are refused before any driver is built", async () => {
    const before = built.length;
    expect((await refusal(`slots:\n  registry: {driver: kv}\n  messaging: {driver: bus}\n  cache: {driver: kv}\n`)).message).toContain(
      'pattern demo has no slot "cache" (slots: registry, messaging, durability)',
    );
    expect((await refusal(`slots:\n  registry: {driver: kv}\n  messaging: {driver: kafka}\n`)).message).toContain(
      'slot "messaging": driver "kafka" is not built into pattern demo (drivers: kv, bus)',
    );
    expect((await refusal(`slots:\n  registry: {driver: kv}\n`)).message).toContain('slot "messaging" of pattern demo is required (needs pubsub_basic)');
    expect((await refusal(`other: 1\n`)).message).toContain('slot "registry" of pattern demo is required');
    expect((await refusal(`slots:\n  registry: {config: {}}\n`)).key).toBe("slots.registry.driver");
    expect(built.length).toBe(before);
  });

  test("when one driver fails to build, those built already are closed", async () => {
    const before = built.length;
    await expect(fill(`slots:\n  registry: {driver: kv}\n  messaging: {driver: bus, config: {fail: true}}\n`)).rejects.toThrow("bus cannot start");
    expect(built.length).toBe(before + 1);
    expect(built.at(-1)!.closed).toBe(true);
  });

  const listDecls: SlotDeclaration[] = [{ name: "shards", requires: ["keyvalue_basic"], list: true, description: "shards" }, decls[1]!];

  test("a list slot takes several backends, each filled as its own driver (shards[0], shards[1]); or one", async () => {
    const filled = await fill(
      `slots:\n  shards:\n    - {driver: kv, config: {n: 0}}\n    - {driver: kv, config: {n: 1}, name: b}\n  messaging: {driver: bus}\n`,
      listDecls,
    );
    expect([...filled.keys()]).toEqual(["shards[0]", "shards[1]", "messaging"]);
    expect(filled.get("shards[1]")!.slot).toBe("shards");
    expect((filled.get("shards[1]")!.driver as TestDriver).config).toEqual({ n: 1 });
    const one = await fill(`slots:\n  shards: {driver: kv}\n  messaging: {driver: bus}\n`, listDecls);
    expect([...one.keys()]).toEqual(["shards", "messaging"]);
  });

  test("list slots: errors name the entry (slots.shards[1].driver) with its line; a list for a one-driver slot is refused", async () => {
    const before = built.length;
    const bad = await refusal(`slots:\n  shards:\n    - {driver: kv}\n    - {driver: bus}\n  messaging: {driver: bus}\n`, listDecls);
    expect(bad.key).toBe("slots.shards[1].driver");
    expect(bad.line).toBe(4);
    expect(bad.message).toContain('slot "shards": driver "bus" does not implement required interface keyvalue_basic');
    expect((await refusal(`slots:\n  shards:\n    - {driver: kv}\n    - {config: {}}\n  messaging: {driver: bus}\n`, listDecls)).key).toBe(
      "slots.shards[1].driver",
    );
    expect((await refusal(`slots:\n  shards: []\n  messaging: {driver: bus}\n`, listDecls)).message).toContain("must list at least one backend");
    const notList = await refusal(`slots:\n  shards: [{driver: kv}]\n  messaging: [{driver: bus}]\n`, listDecls);
    expect(notList.key).toBe("slots.messaging");
    expect(notList.message).toContain('slot "messaging" takes one driver, not a list');
    expect(built.length).toBe(before);
  });

  test("metadata declares every slot and built-in driver", () => {
    expect(slotMetadata(listDecls, drivers)["slot.shards.list"]).toBe("true");
    expect(slotMetadata(decls, drivers)["slot.registry.list"]).toBeUndefined();
    const extra = slotMetadata(decls, drivers);
    expect(extra["slot.registry.requires"]).toBe("keyvalue_basic,keyvalue_scan");
    expect(extra["slot.durability.optional"]).toBe("true");
    expect(extra["slot.messaging.optional"]).toBe("false");
    expect(extra["driver.bus.implements"]).toBe("pubsub_basic,stream_basic");
  });
});

describe("runtime with slots", () => {
  class Composite implements Driver {
    readonly name = "demo";
    readonly version = "1";
    closed = false;
    constructor(
      readonly slots: FilledSlots,
      readonly own: Record<string, unknown>,
    ) {}
    health = () => ({ status: "healthy" as const });
    async close() {
      this.closed = true;
    }
  }
  let made: Composite | undefined;
  const def: PatternDefinition<Composite> = {
    name: "demo",
    version: "1",
    bindings: [],
    slots: decls,
    drivers,
    create: (config, _env, slots) => (made = new Composite(slots!, config)),
  };
  const newRuntime = () => {
    const registry = new Registry();
    return new PatternRuntime(def, { logger: quiet, driverMetrics: new DriverMetrics(registry), registry, configFile: "test" });
  };

  test("initialize fills the slots and hands them to create without the slots key; stop closes them all", async () => {
    const rt = newRuntime();
    expect(rt.patternMetadata().extra["slot.registry.requires"]).toBe("keyvalue_basic,keyvalue_scan");
    await rt.initialize({ namespace: "a", max_identities: 5, slots: { registry: { driver: "kv" }, messaging: { driver: "bus" } } });
    expect(made!.own).toEqual({ max_identities: 5 });
    const drivers = [...made!.slots.values()].map((s) => s.driver as TestDriver);
    expect(drivers.map((d) => d.name)).toEqual(["kv", "bus"]);
    expect(rt.patternMetadata().extra.namespace).toBe("a");
    await rt.stop();
    expect(made!.closed).toBe(true);
    expect(drivers.every((d) => d.closed)).toBe(true);
  });

  test("a refused slot leaves the runtime idle", async () => {
    const rt = newRuntime();
    await expect(rt.initialize({ slots: { registry: { driver: "bus" }, messaging: { driver: "bus" } } })).rejects.toThrow(
      'driver "bus" does not implement required interface keyvalue_basic',
    );
    expect(rt.state).toBe("idle");
  });

  test("ownSlots: the runtime declares the slots but leaves filling them to create, slots key and all", async () => {
    const registry = new Registry();
    const own = new PatternRuntime({ ...def, ownSlots: true }, { logger: quiet, driverMetrics: new DriverMetrics(registry), registry, configFile: "test" });
    expect(own.patternMetadata().extra["slot.registry.requires"]).toBe("keyvalue_basic,keyvalue_scan");
    const before = built.length;
    await own.initialize({ namespace: "a", slots: { registry: [{ driver: "kv" }, { driver: "kv" }] } });
    expect(made!.own).toEqual({ slots: { registry: [{ driver: "kv" }, { driver: "kv" }] } });
    expect(made!.slots.size).toBe(0);
    expect(built.length).toBe(before);
    await own.stop();
  });
});
