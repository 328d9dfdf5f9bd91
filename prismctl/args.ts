import { parseArgs } from "node:util";
import { parseDuration } from "../sdk/config/schema";

/** What the user asked prismctl to do. */
export interface Invocation {
  /** host:port of the proxy's gRPC listener. */
  addr: string;
  namespace?: string;
  /** host:port of the proxy's admin HTTP server. */
  admin: string;
  timeoutMs: number;
  json: boolean;
  limit: number;
  keysOnly: boolean;
  ttlSeconds: number;
  /** Positional words: e.g. ["kv", "set", "k", "v"]. */
  words: string[];
  help: boolean;
}

export const USAGE = `Usage: prismctl [flags] COMMAND
Commands:
  kv set KEY VALUE [--ttl SECONDS]   store a value
  kv get KEY                         print the value (exit 1 when not found)
  kv del KEY                         delete (exit 1 when not found)
  kv exists KEY                      true / false (exit 1 when false)
  kv ttl KEY                         remaining seconds, or none (exit 1 when not found)
  kv expire KEY SECONDS              set the expiry; 0 removes it (exit 1 when not found)
  kv scan PREFIX [--limit N] [--keys-only]
                                     list keys (and values) under a prefix
  caps                               the namespace's capabilities: native / emulated / unavailable, backend, limits
  health                             proxy, namespace and pattern health (exit 1 unless serving)
  patterns                           namespaces, patterns, status, health details (from the admin port)
Flags (also PRISM_ADDR, PRISM_NAMESPACE, PRISM_ADMIN):
  --addr HOST:PORT       proxy gRPC address            [127.0.0.1:8980]
  -n, --namespace NAME   namespace (x-prism-namespace) [default]
  --admin HOST:PORT      proxy admin HTTP address      [127.0.0.1:9090]
  --timeout DURATION     deadline per call             [5s]
  --json                 machine-readable output (patterns, health, caps)
kv and caps use KeyValuePattern (prism.patterns.keyvalue).`;

/** A usage mistake: exit 2 with the usage text. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

/** Parses argv (flags may come before or after the command words). */
export function parseInvocation(argv: string[], env: Record<string, string | undefined>): Invocation {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        addr: { type: "string" },
        namespace: { type: "string", short: "n" },
        admin: { type: "string" },
        timeout: { type: "string" },
        json: { type: "boolean" },
        limit: { type: "string" },
        "keys-only": { type: "boolean" },
        ttl: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const v = parsed.values;
  const timeoutMs = parseDuration(v.timeout ?? "5s");
  if (timeoutMs === undefined || timeoutMs <= 0) throw new UsageError(`--timeout must be a duration like 5s or 500ms, got "${v.timeout}"`);
  const int = (name: string, s: string | undefined): number => {
    if (s === undefined) return 0;
    const n = Number(s);
    if (!Number.isInteger(n) || n < 0) throw new UsageError(`--${name} must be a whole number, got "${s}"`);
    return n;
  };
  return {
    addr: v.addr ?? env.PRISM_ADDR ?? "127.0.0.1:8980",
    namespace: v.namespace ?? env.PRISM_NAMESPACE,
    admin: (v.admin ?? env.PRISM_ADMIN ?? "127.0.0.1:9090").replace(/^https?:\/\//, ""),
    timeoutMs,
    json: v.json === true,
    limit: int("limit", v.limit),
    keysOnly: v["keys-only"] === true,
    ttlSeconds: int("ttl", v.ttl),
    words: parsed.positionals,
    help: v.help === true,
  };
}
