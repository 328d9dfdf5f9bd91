import { readFileSync } from "node:fs";
import { keyName } from "./schema";
import { ConfigError } from "./yaml";

/**
 * Secrets in configuration (contract §4): anywhere a value is expected, `{file: PATH}`
 * or `{env: NAME}` stands for the content of that file (one trailing newline dropped)
 * or the value of that environment variable. Resolved values are remembered so that
 * every place text leaves the process — log lines, gRPC status messages, health
 * messages, span statuses — can replace them with `[redacted]` (redact()).
 */

const REDACTED = "[redacted]";
/** Shorter values are not redacted: replacing "42" or "prism" (the dev services' password) everywhere would mangle every line. */
const MIN_REDACTED_LENGTH = 6;

const known = new Set<string>();
let pattern: RegExp | undefined;

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Remembers a secret value so that redact() hides it (and its URL-encoded form). */
export function registerSecret(value: string): void {
  if (value.length < MIN_REDACTED_LENGTH) return;
  const forms = [value, encodeURIComponent(value)];
  let added = false;
  for (const f of forms) {
    if (!known.has(f)) {
      known.add(f);
      added = true;
    }
  }
  if (added)
    pattern = new RegExp(
      [...known]
        .sort((a, b) => b.length - a.length)
        .map(escape)
        .join("|"),
      "g",
    );
}

/** The text with every registered secret replaced by [redacted]; the same string when none is registered. */
export function redact(text: string): string {
  if (pattern === undefined || text.length < MIN_REDACTED_LENGTH) return text;
  pattern.lastIndex = 0;
  return pattern.test(text) ? text.replace(pattern, REDACTED) : text;
}

/** Registered secrets count (tests). */
export function secretCount(): number {
  return known.size;
}

/** True for `{file: "..."}` or `{env: "..."}` (exactly one key, a string). */
export function isSecretRef(v: unknown): v is { file: string } | { env: string } {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
  const keys = Object.keys(v);
  if (keys.length !== 1) return false;
  const k = keys[0]!;
  return (k === "file" || k === "env") && typeof (v as Record<string, unknown>)[k] === "string";
}

/** Keys whose inline string values are treated as secrets. */
const SECRET_KEY = /pass(word)?$|secret|token|credential|private_key|api_key|nkey_seed|seed$/i;

/** Where a config tree came from, for errors naming file, key and line (the value itself is never named). */
export interface SecretOrigin {
  readonly file: string;
  readonly lineOf?: (path: readonly (string | number)[]) => number | undefined;
  readonly env?: Record<string, string | undefined>;
}

/** Reads one secret reference; registers the value for redaction. */
export function readSecret(ref: { file: string } | { env: string }, origin: SecretOrigin, path: readonly (string | number)[] = []): string {
  const fail = (reason: string): never => {
    throw new ConfigError(origin.file, keyName(path), origin.lineOf?.(path), reason);
  };
  let value: string;
  if ("file" in ref) {
    try {
      value = readFileSync(ref.file, "utf8").replace(/\r?\n$/, "");
    } catch (err) {
      return fail(`cannot read secret file ${ref.file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  } else {
    const v = (origin.env ?? process.env)[ref.env];
    if (v === undefined) return fail(`environment variable ${ref.env} is not set`);
    value = v;
  }
  if (value === "") fail(`secret from ${"file" in ref ? `file ${ref.file}` : `environment variable ${ref.env}`} is empty`);
  registerSecret(value);
  return value;
}

/**
 * A copy of a config tree with every `{file}` / `{env}` reference replaced by its
 * value. Errors name the key and line, never the secret.
 */
export function resolveSecrets<T>(value: T, origin: SecretOrigin, base: readonly (string | number)[] = []): T {
  const walk = (v: unknown, path: (string | number)[]): unknown => {
    if (isSecretRef(v)) return readSecret(v, origin, path);
    // Inline values under secret-sounding keys are hidden from output too (better: {file} / {env}).
    if (typeof v === "string" && SECRET_KEY.test(String(path[path.length - 1] ?? ""))) registerSecret(v);
    if (Array.isArray(v)) return v.map((item, i) => walk(item, [...path, i]));
    if (typeof v === "object" && v !== null) {
      const out: Record<string, unknown> = {};
      for (const [k, item] of Object.entries(v)) out[k] = walk(item, [...path, k]);
      return out;
    }
    return v;
  };
  return walk(value, [...base]) as T;
}
