import { keyName, type Origin, validate } from "../config/schema";
import { ConfigError } from "../config/yaml";
import type { Driver, InterfaceName } from "../drivers/interfaces";
import { QUEUE_METHODS } from "../drivers/queue";
import { instrumentDriver, type DriverMetrics } from "../drivers/instrument";
import type { DriverEnv, DriverRegistry } from "../drivers/registry";

/**
 * One backend a pattern composes (RFC-025): a named place that configuration fills with a driver
 * implementing every interface in `requires`.
 */
export interface SlotDeclaration {
  readonly name: string;
  /** Interfaces the slot's driver must implement (all of them). */
  readonly requires: readonly InterfaceName[];
  /** The slot may stay empty. */
  readonly optional?: boolean;
  /**
   * The slot takes a list of backends (`<slot>: [{driver, config}, …]`, e.g. shards) as well as one; each entry is
   * checked and filled as its own driver (FilledSlots: `<slot>[0]`, `<slot>[1]`, …).
   */
  readonly list?: boolean;
  readonly description: string;
}

/** A slot filled with its driver (instrumented: driver_operation_* metrics are labelled with the driver name). */
export interface FilledSlot<D extends Driver = Driver> {
  readonly slot: string;
  /** The configured driver name, e.g. redis. */
  readonly driverName: string;
  readonly driver: D;
  /** Everything the driver implements (its factory's list), not only what the slot requires. */
  readonly interfaces: readonly InterfaceName[];
}

/** Filled slots by slot name (`<slot>[i]` for each entry of a list slot); an optional slot left empty is absent. */
export type FilledSlots = ReadonlyMap<string, FilledSlot>;

/** Driver methods of each interface, wrapped with metrics and spans. */
export const INTERFACE_METHODS: Record<InterfaceName, readonly string[]> = {
  keyvalue_basic: ["set", "get", "delete", "exists"],
  keyvalue_ttl: ["expire", "getTTL", "persist"],
  keyvalue_scan: ["scan", "count"],
  keyvalue_batch: ["batchSet", "batchGet", "batchDelete"],
  list_basic: ["pushLeft", "pushRight", "popLeft", "popRight", "length", "range"],
  pubsub_basic: ["publish", "subscribe", "unsubscribe"],
  stream_basic: ["append", "appendBatch", "read", "trim"],
  queue: QUEUE_METHODS,
};

/** One backend of a slot: its driver and that driver's config. */
export const slotEntrySchema = { type: "object", required: ["driver"], fields: { driver: { type: "string" }, config: { type: "any" } } } as const;

/** `slots: {<slot>: {driver, config}}`; a list slot may hold `[{driver, config}, …]` instead (validated per entry). */
export const slotsSchema = { type: "map", values: slotEntrySchema } as const;

type SlotEntry = { driver: string; config?: Record<string, unknown> };

/**
 * Validates `slots:`: one entry per slot, or a non-empty list of entries for a slot declared `list`; errors name
 * the key (`slots.store[1].driver`). A list entry may carry keys of the pattern's own beside driver and config.
 */
export function validateSlots(raw: unknown, decls: readonly SlotDeclaration[], origin: Origin): Record<string, SlotEntry | SlotEntry[]> {
  const base = origin.base ?? ["slots"];
  const fail = (path: (string | number)[], message: string): never => {
    throw new ConfigError(origin.file, keyName([...base, ...path]), origin.lineOf?.([...base, ...path]), message);
  };
  if (raw === undefined || raw === null) return {};
  if (typeof raw !== "object" || Array.isArray(raw)) fail([], "must be a map");
  const out: Record<string, SlotEntry | SlotEntry[]> = {};
  for (const [slot, v] of Object.entries(raw as Record<string, unknown>)) {
    if (!Array.isArray(v)) {
      out[slot] = validate<SlotEntry>(v, slotEntrySchema, { ...origin, base: [...base, slot] });
      continue;
    }
    const decl = decls.find((d) => d.name === slot);
    if (decl && !decl.list) fail([slot], `slot "${slot}" takes one driver, not a list`);
    if (v.length === 0) fail([slot], "must list at least one backend");
    out[slot] = v.map((entry, i) => {
      if (typeof entry !== "object" || entry === null || Array.isArray(entry)) return fail([slot, i], "must be a map of settings");
      const { driver, config, ...own } = entry as Record<string, unknown>;
      return { ...own, ...validate<SlotEntry>({ driver, config }, slotEntrySchema, { ...origin, base: [...base, slot, i] }) };
    });
  }
  return out;
}

/**
 * The first reason configured slots cannot be filled from `drivers`, worded as the proxy words it
 * (proxy/slots.ts): unknown slot, driver not built in, missing interface, required slot left empty.
 */
export function slotProblem(
  pattern: string,
  decls: readonly SlotDeclaration[],
  drivers: DriverRegistry,
  configured: Record<string, { driver: string } | { driver: string }[]>,
): { slot?: string; key: string; path: (string | number)[]; message: string } | undefined {
  for (const [slot, value] of Object.entries(configured)) {
    const want = decls.find((d) => d.name === slot);
    if (!want) return { slot, key: slot, path: [slot], message: `pattern ${pattern} has no slot "${slot}" (slots: ${decls.map((d) => d.name).join(", ")})` };
    if (Array.isArray(value) && !want.list) return { slot, key: slot, path: [slot], message: `slot "${slot}" takes one driver, not a list` };
    const entries = Array.isArray(value) ? value.map((e, i) => ({ driver: e.driver, at: [slot, i] })) : [{ driver: value.driver, at: [slot] }];
    for (const { driver, at } of entries) {
      const path = [...at, "driver"];
      if (!drivers.get(driver)) {
        return {
          slot,
          key: keyName(path),
          path,
          message: `slot "${slot}": driver "${driver}" is not built into pattern ${pattern} (drivers: ${drivers.names().join(", ") || "none"})`,
        };
      }
      const missing = drivers.missing(driver, want.requires);
      if (missing.length > 0) {
        return { slot, key: keyName(path), path, message: `slot "${slot}": driver "${driver}" does not implement required interface ${missing.join(", ")}` };
      }
    }
  }
  for (const d of decls) {
    if (!d.optional && !(d.name in configured))
      return { key: "", path: [], message: `slot "${d.name}" of pattern ${pattern} is required (needs ${d.requires.join(", ")})` };
  }
  return undefined;
}

export interface FillOptions {
  pattern: string;
  decls: readonly SlotDeclaration[];
  drivers: DriverRegistry;
  env: DriverEnv;
  metrics: DriverMetrics;
  tracer?: import("@opentelemetry/api").Tracer;
}

/**
 * Checks `slots: {<slot>: {driver, config}}` (or a list of them for a slot declared `list`) against the
 * declarations and creates each slot's driver through the registry. Any problem is a ConfigError naming the slot, the driver and the missing
 * interface, raised before a single driver is created; if a driver fails to build, those built already
 * are closed.
 */
export async function fillSlots(raw: unknown, opts: FillOptions): Promise<Map<string, FilledSlot>> {
  const { env } = opts;
  const origin = { file: env.configFile, lineOf: env.lineOf, base: ["slots"] };
  const configured = validateSlots(raw, opts.decls, origin);
  const problem = slotProblem(opts.pattern, opts.decls, opts.drivers, configured);
  if (problem) {
    const path = ["slots", ...problem.path];
    throw new ConfigError(env.configFile, keyName(path), env.lineOf?.(path), problem.message);
  }
  const filled = new Map<string, FilledSlot>();
  try {
    for (const decl of opts.decls) {
      const value = configured[decl.name];
      if (!value) continue;
      const entries = Array.isArray(value) ? value.map((c, i) => ({ c, at: [decl.name, i] })) : [{ c: value, at: [decl.name] }];
      for (const { c, at } of entries) {
        const factory = opts.drivers.get(c.driver)!;
        const config = c.config ?? {};
        const base = ["slots", ...at, "config"];
        if (typeof config !== "object" || Array.isArray(config)) throw new ConfigError(env.configFile, keyName(base), env.lineOf?.(base), "must be a map");
        const driver = await factory.create(config, {
          ...env,
          logger: env.logger.child({ slot: keyName(at), driver: c.driver }),
          lineOf: env.lineOf && ((p) => env.lineOf!([...base, ...p])),
        });
        const methods = factory.interfaces.flatMap((i) => INTERFACE_METHODS[i]);
        filled.set(keyName(at), {
          slot: decl.name,
          driverName: c.driver,
          driver: instrumentDriver(driver, methods, { driver: c.driver, dbSystem: c.driver, metrics: opts.metrics, tracer: opts.tracer }),
          interfaces: factory.interfaces,
        });
      }
    }
  } catch (err) {
    await closeSlots(filled);
    throw err;
  }
  return filled;
}

/** Closes every slot's driver (errors are collected, not thrown one by one). */
export async function closeSlots(slots: FilledSlots): Promise<void> {
  const results = await Promise.allSettled([...slots.values()].map((s) => s.driver.close()));
  const failed = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed.length > 0)
    throw new AggregateError(
      failed.map((f) => f.reason),
      `closing ${failed.length} slot driver(s) failed`,
    );
}

/**
 * Slots and built-in drivers as PatternMetadata.extra keys, the form the proxy reads (proxy/slots.ts):
 * slot.<slot>.requires, slot.<slot>.optional, slot.<slot>.description, slot.<slot>.list (only when true),
 * driver.<driver>.implements.
 */
export function slotMetadata(decls: readonly SlotDeclaration[], drivers: DriverRegistry): Record<string, string> {
  const extra: Record<string, string> = {};
  for (const d of decls) {
    extra[`slot.${d.name}.requires`] = d.requires.join(",");
    extra[`slot.${d.name}.optional`] = d.optional ? "true" : "false";
    extra[`slot.${d.name}.description`] = d.description;
    if (d.list) extra[`slot.${d.name}.list`] = "true";
  }
  for (const name of drivers.names()) extra[`driver.${name}.implements`] = drivers.get(name)!.interfaces.join(",");
  return extra;
}
