import { describe, expect, test } from "bun:test";
import type { Driver } from "./interfaces";
import { DriverRegistry, type DriverFactory } from "./registry";

const factory = (name: string, interfaces: DriverFactory["interfaces"]): DriverFactory => ({
  name,
  interfaces,
  create: (): Driver => ({ name, version: "1", health: () => ({ status: "healthy" }), close: async () => {} }),
});

describe("driver registry", () => {
  const registry = new DriverRegistry()
    .register(factory("memstore", ["keyvalue_basic", "keyvalue_scan", "pubsub_basic"]))
    .register(factory("nats", ["pubsub_basic", "stream_basic"]));

  test("finds drivers by name", () => {
    expect(registry.names()).toEqual(["memstore", "nats"]);
    expect(registry.get("nats")?.interfaces).toContain("stream_basic");
    expect(registry.get("kafka")).toBeUndefined();
  });

  test("names the interfaces a slot requires that a driver lacks", () => {
    expect(registry.missing("memstore", ["keyvalue_basic", "keyvalue_scan"])).toEqual([]);
    expect(registry.missing("nats", ["keyvalue_basic", "pubsub_basic"])).toEqual(["keyvalue_basic"]);
    expect(registry.missing("unknown", ["pubsub_basic"])).toEqual(["pubsub_basic"]);
  });

  test("refuses a second driver with the same name", () => {
    expect(() => registry.register(factory("nats", []))).toThrow("registered twice");
  });
});
