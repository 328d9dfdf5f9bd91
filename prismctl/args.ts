import { parseArgs } from "node:util";
import { parseDuration } from "../sdk/config/schema";

/** One flag of prismctl: its name, whether it takes a value, its environment variable and its help line. */
export interface Flag {
  name: string;
  short?: string;
  value?: string;
  env?: string;
  help: string;
  multiple?: boolean;
}

/** Flags every command accepts (connection, output). */
export const GLOBAL_FLAGS: Flag[] = [
  { name: "addr", value: "HOST:PORT", env: "PRISM_ADDR", help: "proxy gRPC address; repeat or comma-separate for several [127.0.0.1:8980]", multiple: true },
  { name: "namespace", short: "n", value: "NAME", env: "PRISM_NAMESPACE", help: "namespace (x-prism-namespace) [default]" },
  { name: "admin", value: "HOST:PORT", env: "PRISM_ADMIN", help: "proxy admin HTTP address [127.0.0.1:9090]" },
  { name: "timeout", value: "DURATION", env: "PRISM_TIMEOUT", help: "deadline per call [5s]" },
  { name: "json", env: "PRISM_JSON", help: "machine-readable output (one JSON document, or one JSON line per streamed item)" },
  { name: "tls", env: "PRISM_TLS", help: "TLS to the proxy (system roots unless --tls-ca)" },
  { name: "tls-ca", value: "FILE", env: "PRISM_TLS_CA", help: "CA certificate (PEM) for the proxy's certificate; implies --tls" },
  { name: "tls-cert", value: "FILE", env: "PRISM_TLS_CERT", help: "client certificate (PEM); implies --tls" },
  { name: "tls-key", value: "FILE", env: "PRISM_TLS_KEY", help: "client private key (PEM)" },
  { name: "tls-server-name", value: "NAME", env: "PRISM_TLS_SERVER_NAME", help: "name the proxy's certificate must carry" },
  { name: "token", value: "JWT", env: "PRISM_TOKEN", help: "bearer token (authorization header)" },
  { name: "api-key", value: "KEY", env: "PRISM_API_KEY", help: "API key (x-api-key header)" },
  { name: "help", short: "h", help: "this help" },
];

/** Flags of single commands (listed in their command's `flags`). */
export const COMMAND_FLAGS: Flag[] = [
  { name: "ttl", value: "SECONDS", help: "expiry / time to live (session: also a duration like 30m)" },
  { name: "limit", value: "N", help: "at most N items" },
  { name: "keys-only", help: "keys without values" },
  { name: "count", value: "N", help: "stop after N streamed items" },
  { name: "timeout-ms", value: "MS", help: "delivery timeout of a multicast" },
  { name: "owner", value: "OWNER", help: "the owner of a new session" },
  { name: "attr", value: "KEY=VALUE", help: "a session attribute (repeat)", multiple: true },
  { name: "set", value: "KEY=VALUE", help: "set a session attribute (repeat)", multiple: true },
  { name: "remove", value: "KEY", help: "remove a session attribute (repeat)", multiple: true },
  { name: "expect-version", value: "N", help: "compare-and-set: only when the session is at version N" },
  { name: "cursor", value: "CURSOR", help: "continue a listing from its next cursor" },
  { name: "all", help: "every page of a listing" },
  { name: "key", value: "KEY", help: "ordering key of a published message" },
  { name: "header", value: "KEY=VALUE", help: "a header of a published message (repeat)", multiple: true },
  { name: "max-in-flight", value: "N", help: "unacked deliveries a consumer holds at most" },
  { name: "nack", help: "give each delivery back instead of acking it" },
  { name: "no-ack", help: "leave deliveries unacked" },
  { name: "from", value: "LSN", help: "change events from this commit LSN on (X/Y)" },
];

/** What the user asked prismctl to do. */
export interface Invocation {
  addresses: string[];
  namespace?: string;
  admin: string;
  timeoutMs: number;
  json: boolean;
  tls?: { caFile?: string; certFile?: string; keyFile?: string; serverName?: string };
  token?: string;
  apiKey?: string;
  /** Per-command flag values by name (strings; booleans as "true"; a repeated flag's last value). */
  flags: Record<string, string | undefined>;
  /** Every value of a repeatable command flag (`--attr a=1 --attr b=2`), by name. */
  lists?: Record<string, string[]>;
  /** Positional words: e.g. ["kv", "set", "k", "v"]. */
  words: string[];
  help: boolean;
}

/** A usage mistake: exit 2 with the usage text. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

const truthy = (s: string | undefined) => s !== undefined && s !== "" && s !== "0" && s.toLowerCase() !== "false";

/** Parses argv (flags may come before or after the command words); PRISM_* variables fill flags not given. */
export function parseInvocation(argv: string[], env: Record<string, string | undefined>): Invocation {
  const options: Record<string, { type: "string" | "boolean"; short?: string; multiple?: boolean }> = {};
  for (const f of [...GLOBAL_FLAGS, ...COMMAND_FLAGS])
    options[f.name] = { type: f.value ? "string" : "boolean", ...(f.short ? { short: f.short } : {}), ...(f.multiple ? { multiple: true } : {}) };
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, strict: true, options });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const v = parsed.values as Record<string, string | boolean | string[] | undefined>;
  const str = (name: string, envName?: string) => (v[name] as string | undefined) ?? (envName ? env[envName] || undefined : undefined);
  const bool = (name: string, envName?: string) => v[name] === true || (envName !== undefined && truthy(env[envName]));
  const timeout = str("timeout", "PRISM_TIMEOUT") ?? "5s";
  const timeoutMs = parseDuration(timeout);
  if (timeoutMs === undefined || timeoutMs <= 0) throw new UsageError(`--timeout must be a duration like 5s or 500ms, got "${timeout}"`);
  const addresses = ((v.addr as string[] | undefined) ?? [env.PRISM_ADDR ?? "127.0.0.1:8980"])
    .flatMap((a) => a.split(","))
    .map((a) => a.trim())
    .filter(Boolean);
  const caFile = str("tls-ca", "PRISM_TLS_CA");
  const certFile = str("tls-cert", "PRISM_TLS_CERT");
  const keyFile = str("tls-key", "PRISM_TLS_KEY");
  const serverName = str("tls-server-name", "PRISM_TLS_SERVER_NAME");
  if ((certFile === undefined) !== (keyFile === undefined)) throw new UsageError("--tls-cert and --tls-key go together");
  const tls = bool("tls", "PRISM_TLS") || caFile || certFile ? { caFile, certFile, keyFile, serverName } : undefined;
  const flags: Record<string, string | undefined> = {};
  const lists: Record<string, string[]> = {};
  for (const f of COMMAND_FLAGS) {
    const value = v[f.name];
    if (value === undefined) continue;
    if (Array.isArray(value)) lists[f.name] = value;
    flags[f.name] = String(Array.isArray(value) ? value.at(-1) : value);
  }
  return {
    addresses,
    namespace: str("namespace", "PRISM_NAMESPACE"),
    admin: (str("admin", "PRISM_ADMIN") ?? "127.0.0.1:9090").replace(/^https?:\/\//, ""),
    timeoutMs,
    json: bool("json", "PRISM_JSON"),
    tls,
    token: str("token", "PRISM_TOKEN"),
    apiKey: str("api-key", "PRISM_API_KEY"),
    flags,
    lists,
    words: parsed.positionals,
    help: v.help === true,
  };
}

/** A whole number flag (default 0), else a UsageError. */
export function intFlag(inv: Invocation, name: string): number {
  const s = inv.flags[name];
  if (s === undefined) return 0;
  const n = Number(s);
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`--${name} must be a whole number, got "${s}"`);
  return n;
}

/** Every value of a repeatable flag, in order (none: []). */
export function listFlag(inv: Invocation, name: string): string[] {
  return inv.lists?.[name] ?? [];
}

/** A duration flag in whole seconds: "30m", "90s", "1h" or plain seconds (default 0), else a UsageError. */
export function secondsFlag(inv: Invocation, name: string): number {
  const s = inv.flags[name];
  if (s === undefined) return 0;
  const ms = parseDuration(s);
  if (ms === undefined || ms % 1000 !== 0) throw new UsageError(`--${name} must be whole seconds or a duration like 30m, got "${s}"`);
  return ms / 1000;
}
