import type { Driver, HealthReport, KeyValueBasicDriver } from "@prism/sdk";

/** The backend of the example: a Map in the process. A real driver holds a client of its backend here. */
export class MapDriver implements Driver, KeyValueBasicDriver {
  readonly name = "example";
  readonly version = "0.1.0";
  private readonly values = new Map<string, { value: Uint8Array; expiresAt: number }>();

  set(key: string, value: Uint8Array, ttlSeconds: number): void {
    this.values.set(key, { value, expiresAt: ttlSeconds > 0 ? Date.now() + ttlSeconds * 1000 : Number.POSITIVE_INFINITY });
  }

  get(key: string): Uint8Array | undefined {
    const entry = this.values.get(key);
    if (entry && entry.expiresAt <= Date.now()) this.values.delete(key);
    return entry && entry.expiresAt > Date.now() ? entry.value : undefined;
  }

  delete(key: string): boolean {
    const found = this.get(key) !== undefined;
    this.values.delete(key);
    return found;
  }

  exists(key: string): boolean {
    return this.get(key) !== undefined;
  }

  health(): HealthReport {
    return { status: "healthy", details: { keys: String(this.values.size) } };
  }

  async close(): Promise<void> {
    this.values.clear();
  }
}
