import type { GlobToken, JsonFilter, JsonFilterScanDriver, JsonScalar } from "./interfaces";

const ONE = 1;
const STAR = 2;

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

/** The value at path, undefined when any step is missing or not an object (lists are not traversed). */
function lookup(doc: unknown, path: readonly string[]): unknown {
  let cur = doc;
  for (const key of path) {
    if (typeof cur !== "object" || cur === null || Array.isArray(cur)) return undefined;
    if (!Object.hasOwn(cur, key)) return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

const isScalar = (v: unknown): v is JsonScalar => v === null || typeof v === "string" || typeof v === "number" || typeof v === "boolean";

/** The reference evaluation of a JsonFilter against a parsed JSON document; undefined matches everything. */
export function matchesJsonFilter(f: JsonFilter | undefined, doc: unknown): boolean {
  if (!f) return true;
  switch (f.op) {
    case "and":
      return f.of.every((c) => matchesJsonFilter(c, doc));
    case "or":
      return f.of.some((c) => matchesJsonFilter(c, doc));
    case "not":
      return !matchesJsonFilter(f.of, doc);
  }
  const v = lookup(doc, f.path);
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

/** The filter with every condition's path moved under `key`, for documents that nest the filtered object. */
export function nestJsonFilter(f: JsonFilter, key: string): JsonFilter {
  switch (f.op) {
    case "and":
    case "or":
      return { op: f.op, of: f.of.map((c) => nestJsonFilter(c, key)) };
    case "not":
      return { op: "not", of: nestJsonFilter(f.of, key) };
    default:
      return { ...f, path: [key, ...f.path] };
  }
}

/** True when `driver` evaluates JsonFilters itself, as configured (a Redis cluster, for one, does not). */
export function offersJsonFilterScan<D extends object>(driver: D): driver is D & JsonFilterScanDriver {
  const d = driver as Partial<JsonFilterScanDriver>;
  return typeof d.filterScan === "function" && !d.jsonFilterUnavailable;
}
