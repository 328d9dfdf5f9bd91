import type { Value } from "@bufbuild/protobuf/wkt";
import { type Filter as FilterMsg, Operator } from "../proto/gen/prism/patterns/multicast_registry/multicast_registry_pattern_pb";
import { invalidArgument } from "../sdk/errors";

/** A JSON scalar, the only kind of value a condition compares with. */
export type Scalar = string | number | boolean | null;

export type CompareOp = "eq" | "ne" | "in" | "exists" | "prefix" | "wildcard" | "lt" | "lte" | "gt" | "gte";

/**
 * A checked filter, in the form both evaluators take: this module's `matches` and the Redis script
 * (native/redis_filter.lua.ts), which reads the same tree as JSON. Paths are metadata keys, outermost first.
 */
export type FilterNode =
  | { op: "and" | "or"; of: FilterNode[] }
  | { op: "not"; of: FilterNode }
  | { op: CompareOp; path: string[]; value?: Scalar; values?: Scalar[]; glob?: GlobToken[] };

/** A wildcard pattern, parsed once: literal characters, `?` (one character) and `*` (any run). */
export type GlobToken = string | 1 | 2;
const ONE = 1;
const STAR = 2;

const MAX_DEPTH = 32;
const MAX_CONDITIONS = 1024;
const MAX_IN_VALUES = 1024;

const opNames: Partial<Record<Operator, CompareOp>> = {
  [Operator.EQ]: "eq",
  [Operator.NE]: "ne",
  [Operator.IN]: "in",
  [Operator.EXISTS]: "exists",
  [Operator.PREFIX]: "prefix",
  [Operator.WILDCARD]: "wildcard",
  [Operator.LT]: "lt",
  [Operator.LTE]: "lte",
  [Operator.GT]: "gt",
  [Operator.GTE]: "gte",
};

function scalar(v: Value | undefined, where: string): Scalar {
  switch (v?.kind.case) {
    case "stringValue":
    case "numberValue":
    case "boolValue":
      return v.kind.value;
    case "nullValue":
      return null;
    case undefined:
      throw invalidArgument(`filter: ${where} needs a value`);
    default:
      throw invalidArgument(`filter: ${where}: value must be a string, number, boolean or null, not a ${v?.kind.case === "structValue" ? "struct" : "list"}`);
  }
}

/** Splits a wildcard pattern into tokens; `\` makes the next character literal. */
export function parseGlob(pattern: string): GlobToken[] {
  const chars = Array.from(pattern);
  const out: GlobToken[] = [];
  for (let i = 0; i < chars.length; i++) {
    const c = chars[i]!;
    if (c === "\\" && i + 1 < chars.length) out.push(chars[++i]!);
    else if (c === "*") {
      if (out.at(-1) !== STAR) out.push(STAR);
    } else if (c === "?") out.push(ONE);
    else out.push(c);
  }
  return out;
}

/** Glob match over Unicode characters (the Redis script does the same over UTF-8 characters). */
export function globMatch(tokens: readonly GlobToken[], text: string): boolean {
  const t = Array.from(text);
  let i = 0;
  let j = 0;
  let star = -1;
  let mark = 0;
  while (i < t.length) {
    const p = tokens[j];
    if (j < tokens.length && (p === ONE || p === t[i])) {
      i++;
      j++;
    } else if (j < tokens.length && p === STAR) {
      star = j++;
      mark = i;
    } else if (star >= 0) {
      j = star + 1;
      i = ++mark;
    } else return false;
  }
  while (j < tokens.length && tokens[j] === STAR) j++;
  return j === tokens.length;
}

/**
 * Checks a filter from a request and returns its evaluable form; undefined (no filter, or an empty
 * message) matches every identity. Malformed filters are INVALID_ARGUMENT naming what is wrong.
 */
export function compileFilter(f: FilterMsg | undefined): FilterNode | undefined {
  if (!f || f.kind.case === undefined) return undefined;
  let conditions = 0;
  const walk = (n: FilterMsg | undefined, depth: number): FilterNode => {
    if (depth > MAX_DEPTH) throw invalidArgument(`filter: nested deeper than ${MAX_DEPTH}`);
    const k = n?.kind;
    switch (k?.case) {
      case "and":
      case "or":
        return { op: k.case, of: k.value.filters.map((c) => walk(c, depth + 1)) };
      case "not":
        return { op: "not", of: walk(k.value, depth + 1) };
      case "condition": {
        if (++conditions > MAX_CONDITIONS) throw invalidArgument(`filter: more than ${MAX_CONDITIONS} conditions`);
        const c = k.value;
        const op = opNames[c.op];
        if (!op) throw invalidArgument(`filter: condition on "${c.field}" has no operator`);
        if (c.field === "") throw invalidArgument(`filter: ${op} condition has an empty field`);
        const path = c.field.split(".");
        if (path.some((p) => p === "")) throw invalidArgument(`filter: field "${c.field}" has an empty segment`);
        const where = `${op} on "${c.field}"`;
        switch (op) {
          case "exists":
            return { op, path };
          case "in": {
            if (c.values.length > MAX_IN_VALUES) throw invalidArgument(`filter: ${where} has more than ${MAX_IN_VALUES} values`);
            return { op, path, values: c.values.map((v) => scalar(v, where)) };
          }
          case "prefix":
          case "wildcard": {
            const v = scalar(c.value, where);
            if (typeof v !== "string") throw invalidArgument(`filter: ${where} needs a string value`);
            return op === "prefix" ? { op, path, value: v } : { op, path, value: v, glob: parseGlob(v) };
          }
          case "lt":
          case "lte":
          case "gt":
          case "gte": {
            const v = scalar(c.value, where);
            if (typeof v !== "number") throw invalidArgument(`filter: ${where} needs a number value`);
            return { op, path, value: v };
          }
          default:
            return { op, path, value: scalar(c.value, where) };
        }
      }
      default:
        throw invalidArgument("filter: an empty filter inside and/or/not");
    }
  };
  return walk(f, 1);
}

/** The value at path, undefined when any step is missing or not an object (lists are not traversed). */
function lookup(metadata: unknown, path: readonly string[]): unknown {
  let cur = metadata;
  for (const key of path) {
    if (typeof cur !== "object" || cur === null || Array.isArray(cur)) return undefined;
    if (!Object.hasOwn(cur, key)) return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

const isScalar = (v: unknown): v is Scalar => v === null || typeof v === "string" || typeof v === "number" || typeof v === "boolean";

/** Evaluates a filter against an identity's metadata (a JSON object); undefined matches everything. */
export function matches(f: FilterNode | undefined, metadata: unknown): boolean {
  if (!f) return true;
  switch (f.op) {
    case "and":
      return f.of.every((c) => matches(c, metadata));
    case "or":
      return f.of.some((c) => matches(c, metadata));
    case "not":
      return !matches(f.of, metadata);
  }
  const v = lookup(metadata, f.path);
  switch (f.op) {
    case "exists":
      return v !== undefined;
    case "eq":
      return isScalar(v) && v === f.value;
    case "ne":
      return !(isScalar(v) && v === f.value);
    case "in":
      return isScalar(v) && f.values!.includes(v);
    case "prefix":
      return typeof v === "string" && v.startsWith(f.value as string);
    case "wildcard":
      return typeof v === "string" && globMatch(f.glob!, v);
    case "lt":
      return typeof v === "number" && v < (f.value as number);
    case "lte":
      return typeof v === "number" && v <= (f.value as number);
    case "gt":
      return typeof v === "number" && v > (f.value as number);
    case "gte":
      return typeof v === "number" && v >= (f.value as number);
  }
}
