import { createHash } from "node:crypto";
import {
  ConfigError,
  type Driver,
  type DriverEnv,
  type DriverRegistry,
  type InterfaceName,
  type KeyValueBasicDriver,
  type KeyValueScanDriver,
  type KeyValueTTLDriver,
  type KeyValueVersionedDriver,
  type SlotDeclaration,
  type StreamDriver,
  validate,
} from "@prism/sdk";

/** What a shard of the store slot must offer: key-value with expiry, scan, and compare-and-set by version. */
export type ShardDriver = Driver & KeyValueBasicDriver & KeyValueTTLDriver & KeyValueScanDriver & KeyValueVersionedDriver;

/** One backend of the store slot. */
export interface Shard {
  /** Stable identity on the hash ring (config `name`, else derived from driver and config). */
  readonly name: string;
  readonly driverName: string;
  readonly driver: ShardDriver;
  /** Still listed so its sessions can be moved off it, but owns no part of the ring. */
  readonly draining: boolean;
  readonly interfaces: readonly InterfaceName[];
}

export interface ReplicationBackend {
  readonly driverName: string;
  readonly driver: Driver & StreamDriver;
  readonly interfaces: readonly InterfaceName[];
}

/** The two slots of the Session Store (RFC-024/025). */
export const SESSION_SLOTS: readonly SlotDeclaration[] = [
  {
    name: "store",
    requires: ["keyvalue_basic", "keyvalue_ttl", "keyvalue_scan"],
    list: true,
    description: "the sessions, on one backend or a list of them (shards, placed by consistent hashing); the driver must also offer compare-and-set by version",
  },
  {
    name: "replication",
    requires: ["stream_basic"],
    optional: true,
    description: "every change shipped to the other regions, applied there by the rule highest version, then region id",
  },
];

const VERSIONED = ["getVersioned", "setVersioned", "deleteVersioned"] as const;

const entrySchema = {
  type: "object",
  required: ["driver"],
  fields: { driver: { type: "string" }, config: { type: "any" }, name: { type: "string" }, draining: { type: "boolean", default: false } },
} as const;

interface Entry {
  driver: string;
  config?: unknown;
  name?: string;
  draining: boolean;
}

export interface FilledSessionSlots {
  shards: Shard[];
  replication?: ReplicationBackend;
}

/**
 * Fills `slots: {store: {driver, config} | [{driver, config, name?, draining?}, …], replication?: {driver, config}}`
 * from the drivers built in. Refusals name the slot key, the driver and the missing interface, as the SDK's slots do;
 * a driver that fails to build closes those built already.
 */
export async function fillSessionSlots(raw: unknown, drivers: DriverRegistry, env: DriverEnv): Promise<FilledSessionSlots> {
  const origin = (base: (string | number)[]) => ({ file: env.configFile, lineOf: env.lineOf, base });
  const fail = (path: (string | number)[], message: string): never => {
    throw new ConfigError(env.configFile, keyOf(path), env.lineOf?.(path), message);
  };
  if (raw === undefined || raw === null || typeof raw !== "object" || Array.isArray(raw)) fail(["slots"], "must be a map with a store slot");
  const slots = raw as Record<string, unknown>;
  for (const k of Object.keys(slots)) {
    if (!SESSION_SLOTS.some((d) => d.name === k)) fail(["slots", k], `pattern session-store has no slot "${k}" (slots: store, replication)`);
  }
  if (slots.store === undefined) fail(["slots"], 'slot "store" of pattern session-store is required (needs keyvalue_basic, keyvalue_ttl, keyvalue_scan)');
  const list = Array.isArray(slots.store) ? slots.store : [slots.store];
  if (list.length === 0) fail(["slots", "store"], "needs at least one backend");
  const entries = list.map((e, i) => {
    const path = Array.isArray(slots.store) ? ["slots", "store", i] : ["slots", "store"];
    return { path, entry: validate<Entry>(e, entrySchema, origin(path)) };
  });
  const storeDecl = SESSION_SLOTS[0]!;
  const names = new Map<string, (string | number)[]>();
  for (const { path, entry } of entries) {
    checkDriver(drivers, entry.driver, storeDecl.requires, [...path, "driver"], fail);
    const name = entry.name ?? defaultName(entry);
    if (names.has(name)) fail([...path, "name"], `shard name "${name}" is used twice (give each shard its own name:)`);
    names.set(name, path);
  }
  if (entries.every((e) => e.entry.draining)) fail(["slots", "store"], "every shard is draining: at least one must own the ring");
  let replicationEntry: Entry | undefined;
  if (slots.replication !== undefined) {
    replicationEntry = validate<Entry>(slots.replication, entrySchema, origin(["slots", "replication"]));
    checkDriver(drivers, replicationEntry.driver, SESSION_SLOTS[1]!.requires, ["slots", "replication", "driver"], fail);
  }

  const built: Driver[] = [];
  const create = async (entry: Entry, path: (string | number)[], slot: string) => {
    const config = entry.config ?? {};
    if (typeof config !== "object" || Array.isArray(config)) fail([...path, "config"], "must be a map");
    const factory = drivers.get(entry.driver)!;
    const driver = await factory.create(config as Record<string, unknown>, {
      ...env,
      logger: env.logger.child({ slot, driver: entry.driver }),
      lineOf: env.lineOf && ((p) => env.lineOf!([...path, "config", ...p])),
    });
    built.push(driver);
    return { driver, interfaces: factory.interfaces };
  };
  try {
    const shards: Shard[] = [];
    for (const { path, entry } of entries) {
      const { driver, interfaces } = await create(entry, path, "store");
      const missing = VERSIONED.filter((m) => typeof (driver as unknown as Record<string, unknown>)[m] !== "function");
      if (missing.length > 0) fail([...path, "driver"], `slot "store": driver "${entry.driver}" has no compare-and-set by version (${missing.join(", ")})`);
      shards.push({ name: entry.name ?? defaultName(entry), driverName: entry.driver, driver: driver as ShardDriver, draining: entry.draining, interfaces });
    }
    let replication: ReplicationBackend | undefined;
    if (replicationEntry) {
      const { driver, interfaces } = await create(replicationEntry, ["slots", "replication"], "replication");
      replication = { driverName: replicationEntry.driver, driver: driver as Driver & StreamDriver, interfaces };
    }
    return { shards, replication };
  } catch (err) {
    await Promise.allSettled(built.map((d) => d.close()));
    throw err;
  }
}

function checkDriver(
  drivers: DriverRegistry,
  driver: string,
  requires: readonly InterfaceName[],
  path: (string | number)[],
  fail: (path: (string | number)[], message: string) => never,
): void {
  const slot = String(path[1]);
  if (!drivers.get(driver)) fail(path, `slot "${slot}": driver "${driver}" is not built into pattern session-store (drivers: ${drivers.names().join(", ")})`);
  const missing = drivers.missing(driver, requires);
  if (missing.length > 0) fail(path, `slot "${slot}": driver "${driver}" does not implement required interface ${missing.join(", ")}`);
}

/** Same driver and config, same name: a shard keeps its place on the ring when others are added or removed. */
function defaultName(e: Entry): string {
  return `${e.driver}-${createHash("sha256")
    .update(JSON.stringify(e.config ?? {}))
    .digest("hex")
    .slice(0, 8)}`;
}

function keyOf(path: readonly (string | number)[]): string {
  return path.reduce<string>((acc, seg) => (typeof seg === "number" ? `${acc}[${seg}]` : acc ? `${acc}.${seg}` : seg), "");
}
