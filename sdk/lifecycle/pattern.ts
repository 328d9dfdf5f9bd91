import type { Driver } from "../drivers/interfaces";
import type { DriverEnv } from "../drivers/registry";
import type { ServiceBinding } from "../services/binding";

/**
 * Everything the SDK needs to run a pattern: its identity, the gRPC services it
 * serves (bindings) and how to build its driver from configuration.
 */
export interface PatternDefinition<D extends Driver = Driver> {
  readonly name: string;
  readonly version: string;
  /** db.system attribute of backend spans, e.g. "redis"; defaults to name. */
  readonly dbSystem?: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  readonly bindings: readonly ServiceBinding<any, any>[];
  /** Validates the configuration (throwing ConfigError) and builds the driver. */
  create(config: Record<string, unknown>, env: DriverEnv): D | Promise<D>;
}
