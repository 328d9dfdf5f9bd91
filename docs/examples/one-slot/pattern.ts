import {
  type Driver,
  DriverRegistry,
  type HealthReport,
  type KeyValueBasicDriver,
  keyValueBasic,
  type PatternDefinition,
  type Schema,
  type SlotDeclaration,
  validate,
} from "@prism/sdk";
import { mapDriver } from "./store";

/** The one slot: any driver with the key-value basics can fill it. */
export const SLOTS: readonly SlotDeclaration[] = [{ name: "store", requires: ["keyvalue_basic"], description: "where the keys live" }];

/** The pattern's own setting, beside `slots`. */
const settings: Schema = { type: "object", fields: { prefix: { type: "string", default: "" } } };

type SlotDriver = Driver & KeyValueBasicDriver;

/** What the pattern adds over its slot: every key lives under a prefix, so namespaces can share one backend. */
export class PrefixedKeyValue implements Driver, KeyValueBasicDriver {
  readonly name = "prefixed";
  readonly version = "0.1.0";

  constructor(
    private readonly store: SlotDriver,
    private readonly prefix: string,
  ) {}

  set(key: string, value: Uint8Array, ttlSeconds: number) {
    return this.store.set(this.prefix + key, value, ttlSeconds);
  }

  get(key: string) {
    return this.store.get(this.prefix + key);
  }

  delete(key: string) {
    return this.store.delete(this.prefix + key);
  }

  exists(key: string) {
    return this.store.exists(this.prefix + key);
  }

  health(): Promise<HealthReport> | HealthReport {
    return this.store.health();
  }

  /** The SDK closes the slot's driver itself, after this one. */
  async close(): Promise<void> {}
}

export const oneSlotPattern: PatternDefinition<PrefixedKeyValue> = {
  name: "one-slot",
  version: "0.1.0",
  bindings: [keyValueBasic],
  slots: SLOTS,
  drivers: DriverRegistry.of(mapDriver),
  create(config, env, slots) {
    const { prefix } = validate<{ prefix: string }>(config, settings, { file: env.configFile, lineOf: env.lineOf });
    return new PrefixedKeyValue(slots!.get("store")!.driver as SlotDriver, prefix);
  },
};
