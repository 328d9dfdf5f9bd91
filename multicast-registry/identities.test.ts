/**
 * How the registry uses native filtering: only through the driver's JsonFilterScanDriver capability, detected on
 * the slot's driver (also behind the SDK's instrumented facade), with the pattern filtering itself when the driver
 * lacks it or has it switched off; capabilities say which. Both paths select the same live identities.
 */
import { afterEach, describe, expect, test } from "bun:test";
import type { JsonObject } from "@bufbuild/protobuf";
import { Registry } from "prom-client";
import { memstoreDriver } from "../memstore/factory";
import { FilterPerformance } from "../proto/gen/prism/patterns/multicast_registry/multicast_registry_pattern_pb";
import { DriverMetrics, instrumentDriver } from "../sdk/drivers/instrument";
import type { JsonFilterScanDriver, JsonFilterScanOptions, JsonFilterScanPage, ScanOptions } from "../sdk/drivers/interfaces";
import { matchesJsonFilter } from "../sdk/drivers/json_filter";
import { INTERFACE_METHODS, type FilledSlot } from "../sdk/lifecycle/slots";
import { createLogger } from "../sdk/observability/logger";
import type { FilterNode } from "./filter";
import { IdentityStore, type RegistryDriver } from "./identities";
import { multicastRegistryPattern } from "./pattern";
import type { MulticastRegistry } from "./registry";

const logger = createLogger({ level: "error" });
const env = () => ({ logger, namespace: "t", configFile: "test", registry: new Registry() });
const decoder = new TextDecoder();

/** A key-value registry driver (memstore underneath) that evaluates JsonFilters itself, counting its calls. */
class FilteringDriver implements RegistryDriver, JsonFilterScanDriver {
  readonly name = "filtering";
  readonly version = "1";
  calls = 0;
  constructor(
    private readonly kv: RegistryDriver,
    readonly jsonFilterUnavailable?: string,
  ) {}
  set(key: string, value: Uint8Array, ttl: number) {
    return this.kv.set(key, value, ttl);
  }
  get(key: string) {
    return this.kv.get(key);
  }
  delete(key: string) {
    return this.kv.delete(key);
  }
  exists(key: string) {
    return this.kv.exists(key);
  }
  scan(opts: ScanOptions) {
    return this.kv.scan(opts);
  }
  count(prefix: string) {
    return this.kv.count(prefix);
  }
  health() {
    return this.kv.health();
  }
  close() {
    return this.kv.close();
  }
  async filterScan(opts: JsonFilterScanOptions): Promise<JsonFilterScanPage> {
    this.calls++;
    const entries: JsonFilterScanPage["entries"] = [];
    let nextCursor = "";
    for await (const e of this.kv.scan({ prefix: opts.prefix, limit: opts.count, cursor: opts.cursor, withValues: true, signal: opts.signal })) {
      if (e.nextCursor) nextCursor = e.nextCursor;
      if (e.value && matchesJsonFilter(opts.filter, JSON.parse(decoder.decode(e.value)))) entries.push({ key: e.key, value: e.value });
    }
    return { entries, nextCursor };
  }
}

const memstore = () => memstoreDriver.create({}, env()) as unknown as RegistryDriver;
/** A slot filled as the SDK fills it: the driver behind instrumentDriver's facade. */
function slot(name: string, driverName: string, driver: object): FilledSlot {
  const interfaces = memstoreDriver.interfaces;
  const methods = interfaces.flatMap((i) => INTERFACE_METHODS[i]);
  const metrics = new DriverMetrics(new Registry());
  return { slot: name, driverName, driver: instrumentDriver(driver, methods, { driver: driverName, dbSystem: driverName, metrics }) as never, interfaces };
}

const open: MulticastRegistry[] = [];
afterEach(async () => {
  for (const r of open.splice(0)) await r.close();
});

async function registryOver(driver: object): Promise<MulticastRegistry> {
  const slots = new Map([
    ["registry", slot("registry", "filtering", driver)],
    ["messaging", slot("messaging", "memstore", memstore())],
  ]);
  const r = await multicastRegistryPattern([{ factory: memstoreDriver }]).create({}, env(), slots);
  open.push(r);
  return r;
}

const eq = (field: string, value: string | number): FilterNode => ({ op: "eq", path: [field], value });

describe("multicast registry: native filtering through the driver capability", () => {
  test("a driver offering JsonFilterScan filters natively, through the SDK's facade; capabilities say FILTER_NATIVE", async () => {
    const driver = new FilteringDriver(memstore());
    const r = await registryOver(driver);
    expect(r.store.native).toBeDefined();
    expect(r.capabilities!.filterPerformance).toBe(FilterPerformance.FILTER_NATIVE);
    await r.register("a", { team: "core" }, 0);
    await r.register("b", { team: "edge" }, 0);
    const ids: string[] = [];
    for await (const rec of r.store.all(eq("team", "core"), AbortSignal.timeout(5_000))) ids.push(rec.identity);
    expect(ids).toEqual(["a"]);
    expect(driver.calls).toBeGreaterThan(0);
  });

  test("without the capability, or with it switched off, the pattern filters itself: FILTER_CLIENT_SIDE", async () => {
    for (const driver of [memstore(), new FilteringDriver(memstore(), "a Redis cluster")]) {
      const r = await registryOver(driver);
      expect(r.store.native).toBeUndefined();
      expect(r.capabilities!.filterPerformance).toBe(FilterPerformance.FILTER_CLIENT_SIDE);
      await r.register("a", { team: "core" }, 0);
      await r.register("b", { team: "edge" }, 0);
      const ids: string[] = [];
      for await (const rec of r.store.all(eq("team", "core"), AbortSignal.timeout(5_000))) ids.push(rec.identity);
      expect(ids).toEqual(["a"]);
      if (driver instanceof FilteringDriver) expect(driver.calls).toBe(0);
    }
  });

  test("native and client-side select the same live identities, expired ones excluded by both", async () => {
    let now = 1_000_000;
    const driver = new FilteringDriver(memstore());
    const native = new IdentityStore(driver, driver, 0, () => now);
    const clientSide = new IdentityStore(driver, undefined, 0, () => now);
    const people: [string, JsonObject, number][] = [
      ["ann", { team: "core", n: 1 }, 0],
      ["bob", { team: "core", n: 2 }, 5_000],
      ["cid", { team: "edge", n: 3 }, 60_000],
      ["dee", { team: "core", nested: { x: true } }, 0],
    ];
    for (const [id, m, ttl] of people) await native.register(id, m, ttl);
    now += 10_000; // bob has expired (his record says so, whatever the backend's own expiry)
    const select = async (s: IdentityStore, f: FilterNode | undefined) => {
      const out: string[] = [];
      for await (const rec of s.all(f, AbortSignal.timeout(5_000))) out.push(rec.identity);
      return out.sort();
    };
    const filters: (FilterNode | undefined)[] = [
      undefined,
      eq("team", "core"),
      { op: "not", of: eq("team", "core") },
      { op: "exists", path: ["nested", "x"] },
      { op: "gte", path: ["n"], value: 2 },
    ];
    const got = await Promise.all(filters.map(async (f) => [await select(native, f), await select(clientSide, f)]));
    expect(got).toEqual([
      [
        ["ann", "cid", "dee"],
        ["ann", "cid", "dee"],
      ],
      [
        ["ann", "dee"],
        ["ann", "dee"],
      ],
      [["cid"], ["cid"]],
      [["dee"], ["dee"]],
      [["cid"], ["cid"]],
    ]);
  });
});
