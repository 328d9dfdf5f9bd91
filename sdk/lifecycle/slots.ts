import { validate } from "../config/schema";
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

/** Filled slots by slot name; an optional slot left empty is absent. */
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

export const slotsSchema = {
  type: "map",
  values: { type: "object", required: ["driver"], fields: { driver: { type: "string" }, config: { type: "any" } } },
} as const;

/**
 * The first reason configured slots cannot be filled from `drivers`, worded as the proxy words it
 * (proxy/slots.ts): unknown slot, driver not built in, missing interface, required slot left empty.
 */
export function slotProblem(
  pattern: string,
  decls: readonly SlotDeclaration[],
  drivers: DriverRegistry,
  configured: Record<string, { driver: string }>,
): { slot?: string; key: string; message: string } | undefined {
  for (const [slot, { driver }] of Object.entries(configured)) {
    const want = decls.find((d) => d.name === slot);
    if (!want) return { slot, key: slot, message: `pattern ${pattern} has no slot "${slot}" (slots: ${decls.map((d) => d.name).join(", ")})` };
    if (!drivers.get(driver)) {
      return {
        slot,
        key: `${slot}.driver`,
        message: `slot "${slot}": driver "${driver}" is not built into pattern ${pattern} (drivers: ${drivers.names().join(", ") || "none"})`,
      };
    }
    const missing = drivers.missing(driver, want.requires);
    if (missing.length > 0) {
      return { slot, key: `${slot}.driver`, message: `slot "${slot}": driver "${driver}" does not implement required interface ${missing.join(", ")}` };
    }
  }
  for (const d of decls) {
    if (!d.optional && !(d.name in configured))
      return { key: "", message: `slot "${d.name}" of pattern ${pattern} is required (needs ${d.requires.join(", ")})` };
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
 * Checks `slots: {<slot>: {driver, config}}` against the declarations and creates each slot's driver
 * through the registry. Any problem is a ConfigError naming the slot, the driver and the missing
 * interface, raised before a single driver is created; if a driver fails to build, those built already
 * are closed.
 */
export async function fillSlots(raw: unknown, opts: FillOptions): Promise<Map<string, FilledSlot>> {
  const { env } = opts;
  const origin = { file: env.configFile, lineOf: env.lineOf, base: ["slots"] };
  const configured = validate<Record<string, { driver: string; config?: Record<string, unknown> }>>(raw ?? {}, slotsSchema, origin);
  const problem = slotProblem(opts.pattern, opts.decls, opts.drivers, configured);
  if (problem) {
    const path = ["slots", ...(problem.key ? problem.key.split(".") : [])];
    throw new ConfigError(env.configFile, path.join("."), env.lineOf?.(path), problem.message);
  }
  const filled = new Map<string, FilledSlot>();
  try {
    for (const decl of opts.decls) {
      const c = configured[decl.name];
      if (!c) continue;
      const factory = opts.drivers.get(c.driver)!;
      const config = c.config ?? {};
      if (typeof config !== "object" || Array.isArray(config)) {
        const path = ["slots", decl.name, "config"];
        throw new ConfigError(env.configFile, path.join("."), env.lineOf?.(path), "must be a map");
      }
      const base = ["slots", decl.name, "config"];
      const driver = await factory.create(config, {
        ...env,
        logger: env.logger.child({ slot: decl.name, driver: c.driver }),
        lineOf: env.lineOf && ((p) => env.lineOf!([...base, ...p])),
      });
      const methods = factory.interfaces.flatMap((i) => INTERFACE_METHODS[i]);
      filled.set(decl.name, {
        slot: decl.name,
        driverName: c.driver,
        driver: instrumentDriver(driver, methods, { driver: c.driver, dbSystem: c.driver, metrics: opts.metrics, tracer: opts.tracer }),
        interfaces: factory.interfaces,
      });
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
 * slot.<slot>.requires, slot.<slot>.optional, slot.<slot>.description, driver.<driver>.implements.
 */
export function slotMetadata(decls: readonly SlotDeclaration[], drivers: DriverRegistry): Record<string, string> {
  const extra: Record<string, string> = {};
  for (const d of decls) {
    extra[`slot.${d.name}.requires`] = d.requires.join(",");
    extra[`slot.${d.name}.optional`] = d.optional ? "true" : "false";
    extra[`slot.${d.name}.description`] = d.description;
  }
  for (const name of drivers.names()) extra[`driver.${name}.implements`] = drivers.get(name)!.interfaces.join(",");
  return extra;
}
