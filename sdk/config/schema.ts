import { ConfigError, type YamlSource } from "./yaml";

/**
 * A small declarative schema for configuration maps: unknown keys and wrong types
 * are errors that name the key and the line, and defaults are filled in.
 */
export type Schema =
  | { type: "string"; default?: string; enum?: readonly string[] }
  | { type: "integer"; default?: number; min?: number; max?: number }
  | { type: "number"; default?: number; min?: number }
  | { type: "boolean"; default?: boolean }
  /** default: a string like "30s", or a number of milliseconds. */
  | { type: "duration"; default?: string | number }
  | { type: "bytes"; default?: string | number }
  | { type: "array"; items: Schema; default?: unknown[] }
  | { type: "map"; values: Schema }
  | { type: "object"; fields: Record<string, Schema>; required?: readonly string[]; optional?: boolean }
  | { type: "any" };

type Path = (string | number)[];

/** Where a value came from, so errors can name file and line. */
export interface Origin {
  file: string;
  lineOf?: YamlSource["lineOf"];
  /** Prefix for key paths (e.g. namespaces[0].config). */
  base?: Path;
}

/** A config key path as operators write it: namespaces[0].config.password. */
export function keyName(path: readonly (string | number)[]): string {
  return path.reduce<string>((acc, seg) => (typeof seg === "number" ? `${acc}[${seg}]` : acc ? `${acc}.${seg}` : seg), "");
}

/** Parses "30s", "500ms", "2m", "1h" or a number of seconds into milliseconds. */
export function parseDuration(v: unknown): number | undefined {
  if (typeof v === "number" && Number.isFinite(v) && v >= 0) return v * 1000;
  if (typeof v !== "string") return undefined;
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/.exec(v.trim());
  if (!m) return undefined;
  const n = Number(m[1]);
  const unit = m[2] ?? "s";
  return n * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[unit as "ms" | "s" | "m" | "h"];
}

/** Parses "1MiB", "512KiB", "10KB" or a plain number of bytes. */
export function parseBytes(v: unknown): number | undefined {
  if (typeof v === "number" && Number.isInteger(v) && v >= 0) return v;
  if (typeof v !== "string") return undefined;
  const m = /^(\d+)\s*(B|KB|KiB|MB|MiB|GB|GiB)?$/i.exec(v.trim());
  if (!m) return undefined;
  const mult: Record<string, number> = { b: 1, kb: 1000, kib: 1024, mb: 1e6, mib: 1 << 20, gb: 1e9, gib: 1 << 30 };
  return Number(m[1]) * mult[(m[2] ?? "b").toLowerCase()]!;
}

/** Checks and normalises a value against a schema (durations become ms, sizes bytes). */
export function validate<T = Record<string, unknown>>(value: unknown, schema: Schema, origin: Origin): T {
  const fail = (path: Path, reason: string): never => {
    const full = [...(origin.base ?? []), ...path];
    throw new ConfigError(origin.file, keyName(full), origin.lineOf?.(full), reason);
  };
  const walk = (v: unknown, s: Schema, path: Path): unknown => {
    if (v === undefined || v === null) {
      if ("default" in s && s.default !== undefined) {
        // A number as a duration's default is the code's own unit, milliseconds (a number in a file is seconds).
        if (s.type === "duration" && typeof s.default === "number") return s.default;
        v = s.default;
      } else if (s.type === "object" && !s.optional) v = {};
      else return undefined;
    }
    switch (s.type) {
      case "any":
        return v;
      case "string":
        if (typeof v !== "string") return fail(path, `must be a string, got ${typeof v}`);
        if (s.enum && !s.enum.includes(v)) return fail(path, `must be one of ${s.enum.join(", ")}, got "${v}"`);
        return v;
      case "integer":
      case "number": {
        if (typeof v !== "number" || !Number.isFinite(v)) return fail(path, `must be a number, got ${JSON.stringify(v)}`);
        if (s.type === "integer" && !Number.isInteger(v)) return fail(path, `must be an integer, got ${v}`);
        if (s.min !== undefined && v < s.min) return fail(path, `must be at least ${s.min}, got ${v}`);
        if (s.type === "integer" && s.max !== undefined && v > s.max) return fail(path, `must be at most ${s.max}, got ${v}`);
        return v;
      }
      case "boolean":
        if (typeof v !== "boolean") return fail(path, `must be true or false, got ${JSON.stringify(v)}`);
        return v;
      case "duration": {
        const ms = parseDuration(v);
        if (ms === undefined) return fail(path, `must be a duration like 30s or 500ms, got ${JSON.stringify(v)}`);
        return ms;
      }
      case "bytes": {
        const b = parseBytes(v);
        if (b === undefined) return fail(path, `must be a size like 1MiB or 4096, got ${JSON.stringify(v)}`);
        return b;
      }
      case "array":
        if (!Array.isArray(v)) return fail(path, `must be a list`);
        return v.map((item, i) => walk(item, s.items, [...path, i]));
      case "map": {
        if (typeof v !== "object" || Array.isArray(v)) return fail(path, `must be a map`);
        const out: Record<string, unknown> = {};
        for (const [k, item] of Object.entries(v as object)) out[k] = walk(item, s.values, [...path, k]);
        return out;
      }
      case "object": {
        if (typeof v !== "object" || Array.isArray(v)) return fail(path, `must be a map of settings`);
        const obj = v as Record<string, unknown>;
        for (const k of Object.keys(obj)) {
          if (!(k in s.fields)) return fail([...path, k], `unknown key (known: ${Object.keys(s.fields).join(", ")})`);
        }
        for (const r of s.required ?? []) if (obj[r] === undefined) return fail([...path, r], "is required");
        const out: Record<string, unknown> = {};
        for (const [k, fs] of Object.entries(s.fields)) {
          const fv = walk(obj[k], fs, [...path, k]);
          if (fv !== undefined) out[k] = fv;
        }
        return out;
      }
    }
  };
  return walk(value, schema, []) as T;
}
