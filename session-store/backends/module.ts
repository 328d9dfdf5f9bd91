import type { DriverFactory } from "@prism/sdk";

/** One driver built into a Session Store executable (scripts/build.ts --variant picks a subset). */
export interface BackendModule {
  readonly factory: DriverFactory;
}
