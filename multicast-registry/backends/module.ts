import { type DriverFactory } from "@prism/sdk";

/**
 * One driver built into a Multicast Registry executable. An executable imports only the modules it is built with
 * (scripts/build.ts --variant), so it carries no code of the others. Whether a registry backend evaluates filters
 * itself is the driver's own capability (JsonFilterScanDriver), detected on the driver, not declared here.
 */
export interface BackendModule {
  readonly factory: DriverFactory;
}
