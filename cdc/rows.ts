import type { JsonObject, JsonValue } from "@bufbuild/protobuf";
import { type JsonFilter, matchesJsonFilter } from "@prism/sdk";
import { Operation } from "../proto/gen/prism/patterns/cdc/cdc_pattern_pb";
import { rowFilter, type TableSetting } from "./settings";

/** A row as the pgoutput decoder gives it: column -> value parsed by pg's type parsers (Date, Buffer, objects...). */
export type DecodedRow = Record<string, unknown>;

/** What a table's rules make of one row change, before it gets its place (LSN, position) in the stream. */
export interface RowChange {
  table: string;
  operation: Operation;
  key: Record<string, string>;
  newValues?: JsonObject;
  oldValues?: JsonObject;
}

/** A decoded value as JSON: timestamps as ISO text, bytea as PostgreSQL's hex text, int8/numeric stay text. */
export function toJson(v: unknown): JsonValue {
  if (v === null || v === undefined) return null;
  if (typeof v === "string" || typeof v === "boolean") return v;
  if (typeof v === "number") return Number.isFinite(v) ? v : String(v);
  if (typeof v === "bigint") return v.toString();
  if (v instanceof Date) return Number.isNaN(v.getTime()) ? String(v) : v.toISOString();
  if (v instanceof Uint8Array) return `\\x${Buffer.from(v).toString("hex")}`;
  if (Array.isArray(v)) return v.map(toJson);
  if (typeof v === "object") {
    const out: JsonObject = {};
    for (const [k, x] of Object.entries(v)) out[k] = toJson(x);
    return out;
  }
  return String(v);
}

function keyText(v: unknown): string {
  const j = toJson(v);
  return typeof j === "string" ? j : JSON.stringify(j);
}

/**
 * One captured table's rules: which columns leave the pattern (a masked one never does, not even in the key),
 * under which names, and which rows (the row filter). Applied to every change of the table before it is delivered.
 */
export class TableRule {
  readonly table: string;
  private readonly keep: Set<string> | undefined;
  private readonly masked: Set<string>;
  private readonly filter: JsonFilter | undefined;

  constructor(private readonly setting: TableSetting) {
    this.table = setting.as || setting.name;
    this.keep = setting.columns.length > 0 ? new Set(setting.columns) : undefined;
    this.masked = new Set(setting.mask);
    this.filter = rowFilter(setting);
  }

  private visible(column: string, keyColumns: readonly string[]): boolean {
    if (this.masked.has(column)) return false;
    return !this.keep || this.keep.has(column) || keyColumns.includes(column);
  }

  private project(row: DecodedRow | null | undefined, keyColumns: readonly string[]): JsonObject | undefined {
    if (!row) return undefined;
    const out: JsonObject = {};
    for (const [column, value] of Object.entries(row)) {
      if (value === undefined || !this.visible(column, keyColumns)) continue; // undefined: an unchanged TOAST value not sent
      out[this.setting.rename[column] ?? column] = toJson(value);
    }
    return out;
  }

  private key(row: DecodedRow | null | undefined, keyColumns: readonly string[]): Record<string, string> {
    const key: Record<string, string> = {};
    if (!row) return key;
    for (const column of keyColumns) {
      if (this.masked.has(column) || row[column] === undefined) continue;
      key[this.setting.rename[column] ?? column] = keyText(row[column]);
    }
    return key;
  }

  /** The change as events carry it, or undefined when the row filter leaves it out. */
  change(
    operation: Operation.INSERT | Operation.UPDATE | Operation.DELETE,
    keyColumns: readonly string[],
    newRow: DecodedRow | null | undefined,
    oldRow: DecodedRow | null | undefined,
  ): RowChange | undefined {
    const tested = operation === Operation.DELETE ? oldRow : newRow;
    if (this.filter && !matchesJsonFilter(this.filter, toJson(tested ?? {}))) return undefined;
    return {
      table: this.table,
      operation,
      key: this.key(operation === Operation.DELETE ? oldRow : newRow, keyColumns),
      newValues: operation === Operation.DELETE ? undefined : this.project(newRow, keyColumns),
      oldValues: this.project(oldRow, keyColumns),
    };
  }

  truncate(): RowChange {
    return { table: this.table, operation: Operation.TRUNCATE, key: {} };
  }
}

/** The sink key of a change: table and primary key, so one row's changes share a key (and a partition). */
export function sinkKey(c: RowChange): string {
  const entries = Object.entries(c.key).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return entries.length === 0 ? c.table : `${c.table}:${JSON.stringify(Object.fromEntries(entries))}`;
}
