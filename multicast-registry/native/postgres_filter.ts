import type { PostgresDriver } from "../../postgres/driver";
import type { FilterNode, GlobToken } from "../filter";
import { ID_PREFIX, type IdentityRecord, type MatchBatch, type NativeFilter, decodeRecord } from "../identities";

/**
 * The filter as a PostgreSQL JSONB condition (FILTER_NATIVE): the registry's values are the records'
 * JSON, so `convert_from(value, 'UTF8')::jsonb -> 'm'` is the metadata and every condition becomes SQL with
 * the same rules as filter.ts: `->` with a text key never enters a list (as in the pattern), jsonb `=`
 * compares numbers by value and scalars exactly, numeric and string tests are guarded by jsonb_typeof
 * (inside CASE, so no cast is tried on another type), wildcards become LIKE (one `_` per character).
 * Every value is a parameter; only the table name (validated by the driver's config) is spliced in.
 */
export class SqlFilter {
  readonly params: unknown[] = [];

  constructor(private readonly first: number) {}

  private p(v: unknown, cast: string): string {
    this.params.push(v);
    return `$${this.first + this.params.length - 1}::${cast}`;
  }

  private value(path: readonly string[]): string {
    return path.reduce((expr, key) => `(${expr} -> ${this.p(key, "text")})`, "m");
  }

  sql(f: FilterNode): string {
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

const ID_START = Buffer.from(ID_PREFIX);
/** The first key after every `id/…` key: "id0". */
const ID_END = Buffer.from(ID_PREFIX.slice(0, -1) + String.fromCharCode(ID_PREFIX.charCodeAt(ID_PREFIX.length - 1) + 1));

/** PostgreSQL's native filter: one page of matching identities per statement, in key order, after a key cursor. */
export function postgresNativeFilter(driver: PostgresDriver): NativeFilter {
  const table = driver.config.table;
  const namespace = driver.config.namespace;
  let schemaReady: Promise<unknown> | undefined;
  return {
    kind: "postgres-jsonb",
    async batch(filter: FilterNode | undefined, cursor: string, count: number, now: number, signal: AbortSignal): Promise<MatchBatch> {
      // The table is created on the driver's first statement; make sure it exists before querying it directly.
      schemaReady ??= Promise.resolve(driver.exists(ID_PREFIX)).catch((err) => {
        schemaReady = undefined;
        throw err;
      });
      await schemaReady;
      const after = cursor ? Buffer.from(cursor, "base64url") : undefined;
      const base: unknown[] = [namespace, ID_START, ID_END, String(now), count];
      if (after) base.push(after);
      const f = new SqlFilter(base.length + 1);
      const where = filter ? f.sql(filter) : "true";
      const text = `select key, value from (
          select key, value, convert_from(value, 'UTF8')::jsonb as d from ${table}
          where namespace = $1 and key >= $2 and key < $3 ${after ? "and key > $6" : ""}
            and (expires_at is null or expires_at > now())
        ) r, lateral (select d -> 'm' as m) x
        where jsonb_typeof(m) = 'object'
          and (coalesce((d ->> 'e')::float8, 0) = 0 or (d ->> 'e')::float8 > $4::text::float8)
          and ${where}
        order by key limit $5`;
      const rows = (await driver.guard.read(
        () => driver.sql.unsafe(text, [...base, ...f.params]) as Promise<{ key: Uint8Array; value: Uint8Array }[]>,
        signal,
      )) as {
        key: Uint8Array;
        value: Uint8Array;
      }[];
      const records: IdentityRecord[] = [];
      for (const row of rows) {
        const identity = Buffer.from(row.key).subarray(ID_START.length).toString("utf8");
        const r = decodeRecord(identity, row.value);
        if (r) records.push(r);
      }
      const next = rows.length === count ? Buffer.from(rows.at(-1)!.key).toString("base64url") : "";
      return { records, next };
    },
  };
}
