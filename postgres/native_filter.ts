import { type GlobToken, type JsonFilter, type JsonFilterScanOptions, type JsonFilterScanPage } from "@prism/sdk";
import { decodeCursor, encodeCursor, keyBytes, keyText, prefixEnd } from "./keys";
import { LIVE } from "./statements";

/**
 * A JsonFilter as a PostgreSQL JSONB condition on the document `d`, with the same rules as the reference evaluator
 * (sdk/drivers/json_filter.ts): `->` with a text key never enters a list, jsonb `=` compares numbers by value and
 * scalars exactly, numeric and string tests are guarded by jsonb_typeof (inside CASE, so no cast is tried on another
 * type), wildcards become LIKE (one `_` per character). Every value is a parameter, numbered from `first`.
 */
export class SqlFilter {
  readonly params: unknown[] = [];

  constructor(private readonly first: number) {}

  private p(v: unknown, cast: string): string {
    this.params.push(v);
    return `$${this.first + this.params.length - 1}::${cast}`;
  }

  private value(path: readonly string[]): string {
    return path.reduce((expr, key) => `(${expr} -> ${this.p(key, "text")})`, "d");
  }

  sql(f: JsonFilter): string {
    switch (f.op) {
      case "and":
        return f.of.length === 0 ? "true" : `(${f.of.map((c) => this.sql(c)).join(" and ")})`;
      case "or":
        return f.of.length === 0 ? "false" : `(${f.of.map((c) => this.sql(c)).join(" or ")})`;
      case "not":
        return `(not ${this.sql(f.of)})`;
    }
    const v = this.value(f.path);
    switch (f.op) {
      case "exists":
        return `(${v} is not null)`;
      case "eq":
        return `coalesce(${v} = ${this.p(JSON.stringify(f.value), "text::jsonb")}, false)`;
      case "ne":
        return `(not coalesce(${v} = ${this.p(JSON.stringify(f.value), "text::jsonb")}, false))`;
      case "in":
        return `coalesce(${v} in (select jsonb_array_elements(${this.p(JSON.stringify(f.values), "text::jsonb")})), false)`;
      case "prefix":
        return `(case when jsonb_typeof(${v}) = 'string' then starts_with(${v} #>> '{}', ${this.p(f.value, "text")}) else false end)`;
      case "wildcard":
        return `(case when jsonb_typeof(${v}) = 'string' then (${v} #>> '{}') like ${this.p(likePattern(f.glob!), "text")} escape '\\' else false end)`;
      default: {
        const op = { lt: "<", lte: "<=", gt: ">", gte: ">=" }[f.op];
        return `(case when jsonb_typeof(${v}) = 'number' then (${v} #>> '{}')::numeric ${op} ${this.p(String(f.value), "text::numeric")} else false end)`;
      }
    }
  }
}

/** A parsed glob as a LIKE pattern with `\` as the escape character. */
export function likePattern(tokens: readonly GlobToken[]): string {
  return tokens.map((t) => (t === 1 ? "_" : t === 2 ? "%" : t.replace(/[\\%_]/g, "\\$&"))).join("");
}

type Read = (text: string, params: unknown[]) => Promise<Record<string, unknown>[]>;

/**
 * One page of a JsonFilterScan: at most `count` matching entries in key order after a keyset cursor (the scan's
 * own cursor format, bound to the prefix). Values are read as UTF-8 JSON; one that is not fails the statement.
 * `table` is the validated table name, the only text spliced in.
 */
export async function postgresFilterScan(table: string, namespace: string, opts: JsonFilterScanOptions, read: Read): Promise<JsonFilterScanPage> {
  const prefix = keyBytes(opts.prefix);
  const end = prefixEnd(prefix);
  const after = opts.cursor ? decodeCursor(opts.cursor, opts.prefix) : undefined;
  const count = Math.max(1, opts.count);
  const params: unknown[] = [namespace, prefix, count];
  const range = [`key >= $2`];
  if (end) range.push(`key < $${params.push(end)}`);
  if (after) range.push(`key > $${params.push(after)}`);
  const f = new SqlFilter(params.length + 1);
  const where = opts.filter ? f.sql(opts.filter) : "true";
  const text = `select key, value from (
      select key, value, convert_from(value, 'UTF8')::jsonb as d from ${table}
      where namespace = $1 and ${range.join(" and ")} and ${LIVE}
    ) r where ${where} order by key limit $3`;
  const rows = await read(text, [...params, ...f.params]);
  const entries = rows.map((r) => ({ key: keyText(r.key as Uint8Array), value: r.value as Uint8Array }));
  const nextCursor = rows.length === count ? encodeCursor(opts.prefix, rows.at(-1)!.key as Uint8Array) : "";
  return { entries, nextCursor };
}
