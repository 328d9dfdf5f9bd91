import type { DriverFactory } from "@prism/sdk";

/**
 * One driver built into the queue executable (`main.ts` lists them). A backend joins by a module here exporting
 * its factory and one line in main.ts and pattern.json; what it can do is read from the driver it builds
 * (QueueFeatures, QueueDeadLetterDriver), never declared here.
 */
export interface BackendModule {
  readonly factory: DriverFactory;
}
