import type { Driver, DriverFactory, HealthReport, KeyValueBasicDriver } from "@prism/sdk";

/** A backend to put in the slot: a Map in the process. Built into the executable as the driver named "map". */
export class MapStore implements Driver, KeyValueBasicDriver {
  readonly name = "map";
  readonly version = "0.1.0";
  private readonly values = new Map<string, Uint8Array>();

  set(key: string, value: Uint8Array): void {
    this.values.set(key, value);
  }

  get(key: string): Uint8Array | undefined {
    return this.values.get(key);
  }

  delete(key: string): boolean {
    return this.values.delete(key);
  }

  exists(key: string): boolean {
    return this.values.has(key);
  }

  health(): HealthReport {
    return { status: "healthy", details: { keys: String(this.values.size) } };
  }

  async close(): Promise<void> {
    this.values.clear();
  }
}

/** How configuration builds it: `slots: {store: {driver: map}}`. */
export const mapDriver: DriverFactory<MapStore> = {
  name: "map",
  interfaces: ["keyvalue_basic"],
  create: () => new MapStore(),
};
