import { ConfigError, type DriverEnv, type JsonFilter, type Schema, validate } from "@prism/sdk";

/** One captured table as configuration names it. */
export interface TableSetting {
  /** "schema.table" or "table" (schema public). */
  name: string;
  /** Columns captured (key columns always are); empty = all. */
  columns: string[];
  /** column -> name it has in events. */
  rename: Record<string, string>;
  /** Columns removed before an event leaves the pattern. */
  mask: string[];
  /** Conditions every captured row meets (all of them); on a delete, tested against the old row. */
  where: { column: string; op: string; value?: unknown; values?: unknown[] }[];
  /** Name of the table in events; default the qualified name. */
  as: string;
}

export interface CdcSettings {
  tables: TableSetting[];
  encoding: "protobuf" | "json";
  /** Sink stream the events are appended to. */
  stream: string;
  /** Copy existing rows first (only when the slot is created). */
  snapshot: boolean;
  /** Key of the checkpoint in the state slot; default cdc/<slot>. */
  checkpoint_key: string;
  checkpoint_interval: number;
  /** Sink appends in flight at once (never two of one row). */
  max_in_flight: number;
  /** Changes held in memory before reading from PostgreSQL pauses. */
  max_buffered: number;
  /** WAL the slot may retain beyond the checkpoint before the pattern reports wal_limit_exceeded (0 = no bound). */
  max_lag_bytes: number;
  /** Give each append an idempotency key (commit LSN/position), so a sink that honours them (JetStream) stores a retried append once. */
  sink_idempotency: boolean;
}

const FILTER_OPS = ["eq", "ne", "in", "exists", "prefix", "lt", "lte", "gt", "gte"] as const;

export const settingsSchema: Schema = {
  type: "object",
  required: ["tables"],
  fields: {
    tables: {
      type: "array",
      items: {
        type: "object",
        required: ["name"],
        fields: {
          name: { type: "string" },
          columns: { type: "array", items: { type: "string" }, default: [] },
          rename: { type: "map", values: { type: "string" } },
          mask: { type: "array", items: { type: "string" }, default: [] },
          where: {
            type: "array",
            default: [],
            items: {
              type: "object",
              required: ["column", "op"],
              fields: {
                column: { type: "string" },
                op: { type: "string", enum: FILTER_OPS },
                value: { type: "any" },
                values: { type: "array", items: { type: "any" } },
              },
            },
          },
          as: { type: "string", default: "" },
        },
      },
    },
    encoding: { type: "string", enum: ["protobuf", "json"], default: "protobuf" },
    stream: { type: "string", default: "cdc" },
    snapshot: { type: "boolean", default: false },
    checkpoint_key: { type: "string", default: "" },
    checkpoint_interval: { type: "duration", default: "100ms" },
    max_in_flight: { type: "integer", min: 1, max: 10_000, default: 512 },
    max_buffered: { type: "integer", min: 100, default: 20_000 },
    max_lag_bytes: { type: "bytes", default: "256MiB" },
    sink_idempotency: { type: "boolean", default: true },
  },
};

/** "orders" -> "public.orders"; quoting is PostgreSQL's business, names here are plain identifiers. */
export function qualified(name: string): string {
  return name.includes(".") ? name : `public.${name}`;
}

export function parseSettings(config: Record<string, unknown>, env: DriverEnv): CdcSettings {
  const s = validate<CdcSettings>(config, settingsSchema, { file: env.configFile, lineOf: env.lineOf });
  if (s.tables.length === 0) throw new ConfigError(env.configFile, "tables", env.lineOf?.(["tables"]), "must name at least one table");
  const seen = new Set<string>();
  s.tables.forEach((t, i) => {
    const at = (key: string, reason: string) => new ConfigError(env.configFile, `tables[${i}].${key}`, env.lineOf?.(["tables", i, key]), reason);
    if (!/^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)?$/.test(t.name)) throw at("name", `"${t.name}" is not a plain [schema.]table name`);
    t.name = qualified(t.name);
    if (seen.has(t.name)) throw at("name", `${t.name} is listed twice`);
    seen.add(t.name);
    t.rename ??= {};
    for (const m of t.mask) if (t.rename[m]) throw at("mask", `column ${m} is both masked and renamed`);
  });
  return s;
}

/** The row filter of a table as the SDK's JSON filter over the row's columns. */
export function rowFilter(t: TableSetting): JsonFilter | undefined {
  if (t.where.length === 0) return undefined;
  return {
    op: "and",
    of: t.where.map((w) => ({ op: w.op as JsonFilter["op"] & string, path: [w.column], value: w.value, values: w.values }) as JsonFilter),
  };
}
