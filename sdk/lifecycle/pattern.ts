import type { Driver } from "../drivers/interfaces";
import type { DriverEnv, DriverRegistry } from "../drivers/registry";
import type { ServiceBinding } from "../services/binding";
import type { FilledSlots, SlotDeclaration } from "./slots";

/**
 * Everything the SDK needs to run a pattern: its identity, the gRPC services it
 * serves (bindings) and how to build its driver from configuration.
 *
 * A pattern over one backend builds its driver itself in `create`. A pattern composed
 * of several backends (RFC-025) declares `slots` and the `drivers` it is built with:
 * the runtime fills each slot from `slots: {<slot>: {driver, config}}` in its
 * configuration (refusing a driver that lacks a required interface), then hands the
 * filled slots to `create`, which builds the pattern's own object over them.
 */
export interface PatternDefinition<D extends Driver = Driver> {
  readonly name: string;
  readonly version: string;
  /** db.system attribute of backend spans, e.g. "redis"; defaults to name. */
  readonly dbSystem?: string;
  // biome-ignore lint/suspicious/noExplicitAny: bindings of every request/response type share one list
  readonly bindings: readonly ServiceBinding<any, any>[];
  /** The backends this pattern composes; absent for a single-backend pattern. */
  readonly slots?: readonly SlotDeclaration[];
  /** The drivers built into this executable, by name (required with `slots`). */
  readonly drivers?: DriverRegistry;
  /**
   * The pattern fills its slots itself in `create` (`config` keeps `slots`); the runtime only declares them (and
   * the drivers) to the proxy, which checks a namespace's `slots:` against them.
   */
  readonly ownSlots?: boolean;
  /**
   * Validates the configuration (throwing ConfigError) and builds the driver. With slots,
   * `config` no longer holds `slots` and `slots` holds the drivers created for them; the
   * runtime closes those drivers after the returned one.
   */
  create(config: Record<string, unknown>, env: DriverEnv, slots?: FilledSlots): D | Promise<D>;
}
