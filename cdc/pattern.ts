import type { MessageInitShape } from "@bufbuild/protobuf";
import {
  ConfigError,
  type Driver,
  DriverRegistry,
  type DriverFactory,
  type FilledSlot,
  type FilledSlots,
  type HealthReport,
  type KeyValueBasicDriver,
  type PatternDefinition,
  type SlotDeclaration,
  type StreamDriver,
} from "@prism/sdk";
import { type CapabilitiesSchema, Encoding } from "../proto/gen/prism/patterns/cdc/cdc_pattern_pb";
import { InterfaceSupport } from "../proto/gen/prism/patterns/schemas/slot_schema_pb";
import { Capture } from "./capture";
import { CdcMetrics } from "./metrics";
import { cdcService } from "./service";
import { type CdcSettings, parseSettings } from "./settings";
import { PostgresLogicalSource } from "./source";

export const CDC_VERSION = "0.1.0";

/**
 * The three slots. `source` requires no data interface: the SDK's interfaces have none for a replication stream,
 * so the pattern checks itself that a postgres_logical driver fills it.
 */
export const CDC_SLOTS: readonly SlotDeclaration[] = [
  { name: "source", requires: [], description: "PostgreSQL logical replication (driver postgres_logical: pgoutput, a permanent slot)" },
  { name: "sink", requires: ["stream_basic"], description: "where change events are appended, keyed by table and primary key" },
  { name: "state", requires: ["keyvalue_basic"], description: "the checkpoint: the last change the sink acknowledged" },
];

const SERVICE: Record<string, string> = {
  keyvalue_basic: "prism.interfaces.keyvalue.KeyValueBasicInterface",
  stream_basic: "prism.interfaces.stream.StreamBasicInterface",
};

/** The pattern's object: capture running over the filled slots, and what GetStatus / GetCapabilities answer. */
export class CdcPattern implements Driver {
  readonly name = "cdc";
  readonly version = CDC_VERSION;

  constructor(
    readonly capture: Capture,
    readonly capabilities: MessageInitShape<typeof CapabilitiesSchema>,
  ) {}

  health(): HealthReport {
    const state = this.capture.state;
    const status =
      state === "streaming" || state === "snapshot" || state === "starting"
        ? "healthy"
        : state === "sink_unavailable" || state === "source_unavailable"
          ? "degraded"
          : "unhealthy";
    return {
      status,
      message: this.capture.error || undefined,
      details: { state, slot: this.capture.slot, lag_bytes: String(this.capture.lagBytes), pending: String(this.capture.pending()) },
    };
  }

  async close(): Promise<void> {
    await this.capture.stop();
  }
}

function capabilities(slots: FilledSlots, s: CdcSettings): MessageInitShape<typeof CapabilitiesSchema> {
  const binding = (f: FilledSlot) => ({
    slot: f.slot,
    backendType: f.driverName,
    interfaces: f.interfaces.map((i) => ({
      name: i,
      service: SERVICE[i] ?? "",
      support: (f.driver.emulates ?? []).includes(i) ? InterfaceSupport.EMULATED : InterfaceSupport.NATIVE,
    })),
  });
  return {
    bindings: [...slots.values()].map(binding),
    schemas: CDC_SLOTS.map((d) => ({ name: d.name, description: d.description, requiredInterfaces: [...d.requires], optional: d.optional ?? false })),
    encoding: s.encoding === "json" ? Encoding.JSON : Encoding.PROTOBUF,
    tables: s.tables.map((t) => t.name),
    supportsSnapshot: s.snapshot,
    stream: s.stream,
    maxLagBytes: BigInt(s.max_lag_bytes),
  };
}

/** The CDC pattern built with these drivers for the sink and state slots (the source is always postgres_logical). */
export function cdcPattern(drivers: readonly DriverFactory[]): PatternDefinition<CdcPattern> {
  return {
    name: "cdc",
    version: CDC_VERSION,
    bindings: [cdcService],
    slots: CDC_SLOTS,
    drivers: DriverRegistry.of(...drivers),
    create(config, env, slots) {
      const settings = parseSettings(config, env);
      const source = slots!.get("source")!;
      if (!(source.driver instanceof PostgresLogicalSource) && source.driverName !== "postgres_logical") {
        throw new ConfigError(
          env.configFile,
          "slots.source.driver",
          env.lineOf?.(["slots", "source", "driver"]),
          `must be postgres_logical, not ${source.driverName}`,
        );
      }
      const capture = new Capture({
        source: source.driver as unknown as PostgresLogicalSource,
        sink: slots!.get("sink")!.driver as unknown as StreamDriver,
        state: slots!.get("state")!.driver as unknown as KeyValueBasicDriver,
        settings,
        maxLagBytes: settings.max_lag_bytes,
        logger: env.logger,
        metrics: new CdcMetrics(env.registry),
      });
      capture.start();
      return new CdcPattern(capture, capabilities(slots!, settings));
    },
  };
}
