import type { Driver, HealthReport, KeyValueBasicDriver } from "../sdk/drivers/interfaces";

/** In-memory key-value store (placeholder: basic operations only). */
export class MemStore implements Driver, KeyValueBasicDriver {
  readonly name = "memstore";
  readonly version = "0.1.0";
  private readonly data = new Map<string, Uint8Array>();
  constructor(readonly maxKeys = 10_000) {}
  set(key: string, value: Uint8Array): void {
    this.data.set(key, value);
  }
  get(key: string): Uint8Array | undefined {
    return this.data.get(key);
  }
  delete(key: string): boolean {
    return this.data.delete(key);
  }
  exists(key: string): boolean {
    return this.data.has(key);
  }
  health(): HealthReport {
    return { status: "healthy", details: { keys: String(this.data.size), max_keys: String(this.maxKeys) } };
  }
  async close(): Promise<void> {
    this.data.clear();
  }
}
