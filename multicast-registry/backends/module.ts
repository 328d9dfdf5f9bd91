import type { Driver } from "../../sdk/drivers/interfaces";
import type { DriverFactory } from "../../sdk/drivers/registry";
import type { NativeFilter } from "../identities";

/**
 * One driver built into a Multicast Registry executable: its factory and, for a registry backend that can
 * evaluate filters itself, how to do so. An executable imports only the modules it is built with
 * (scripts/build.ts --variant), so it carries no code of the others.
 */
export interface BackendModule {
  readonly factory: DriverFactory;
  /** FILTER_NATIVE on this driver, or undefined when this configuration of it cannot (e.g. a Redis cluster). */
  readonly nativeFilter?: (driver: Driver) => NativeFilter | undefined;
}
