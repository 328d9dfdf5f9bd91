import { Health, HealthCheckResponse_ServingStatus as Serving } from "../proto/gen/grpc/health/v1/health_pb";
import { HealthStatus, LifecycleInterface } from "../proto/gen/prism/interfaces/lifecycle_pb";
import { KeyValuePattern } from "../proto/gen/prism/patterns/keyvalue/keyvalue_pattern_pb";
import { createClient } from "../sdk/grpc/client";
import { failOnErrorReply } from "../sdk/grpc/reply_check";
import type { CallOptions } from "../sdk/grpc/types";
import { UsageError, type Invocation } from "./args";
import { formatCapabilities } from "./caps";
import { formatPatterns, type PatternRow } from "./format";

/** Where a command writes: stdout lines and raw bytes, stderr lines. */
export interface Output {
  out(line: string): void;
  bytes(b: Uint8Array): void;
  err(line: string): void;
}

const encoder = new TextEncoder();

/** Runs one command; resolves with the exit code (0 ok, 1 failure or not found). Throws PrismError on gRPC failures. */
export async function run(inv: Invocation, io: Output): Promise<number> {
  const [group, verb, ...rest] = inv.words;
  const opts: CallOptions = { timeoutMs: inv.timeoutMs, metadata: inv.namespace ? { "x-prism-namespace": inv.namespace } : undefined };
  const need = (n: number, usage: string) => {
    if (rest.length !== n) throw new UsageError(`usage: prismctl ${usage}`);
  };
  switch (group) {
    case "kv": {
      // KeyValuePattern, with OK replies that report a failure treated as failures (contract §5).
      const handle = createClient(KeyValuePattern, inv.addr);
      const kv = failOnErrorReply(KeyValuePattern, handle.client);
      try {
        switch (verb) {
          case "set":
            need(2, "kv set KEY VALUE [--ttl SECONDS]");
            await kv.store(
              { key: rest[0]!, value: encoder.encode(rest[1]!), expirationSeconds: inv.ttlSeconds > 0 ? BigInt(inv.ttlSeconds) : undefined },
              opts,
            );
            io.out("OK");
            return 0;
          case "get": {
            need(1, "kv get KEY");
            const r = await kv.retrieve({ key: rest[0]! }, opts);
            if (!r.found) {
              io.err(`(not found) ${rest[0]}`);
              return 1;
            }
            io.bytes(r.value);
            io.out("");
            return 0;
          }
          case "del":
          case "delete": {
            need(1, "kv del KEY");
            const r = await kv.delete({ key: rest[0]! }, opts);
            if (!r.found) {
              io.err(`(not found) ${rest[0]}`);
              return 1;
            }
            io.out("deleted");
            return 0;
          }
          case "exists": {
            need(1, "kv exists KEY");
            const r = await kv.exists({ key: rest[0]! }, opts);
            io.out(r.exists ? "true" : "false");
            return r.exists ? 0 : 1;
          }
          case "ttl": {
            need(1, "kv ttl KEY");
            const s = (await kv.getExpiration({ key: rest[0]! }, opts)).expirationSeconds;
            if (s === -2n) {
              io.err(`(not found) ${rest[0]}`);
              return 1;
            }
            io.out(s === -1n ? "none" : `${s}s`);
            return 0;
          }
          case "expire": {
            need(2, "kv expire KEY SECONDS (0 removes the expiry)");
            const seconds = Number(rest[1]);
            if (!Number.isInteger(seconds) || seconds < 0) throw new UsageError(`SECONDS must be a whole number >= 0, got "${rest[1]}"`);
            const r = await kv.setExpiration({ key: rest[0]!, expirationSeconds: BigInt(seconds) }, opts);
            if (!r.keyExisted) {
              io.err(`(not found) ${rest[0]}`);
              return 1;
            }
            io.out("OK");
            return 0;
          }
          case "scan": {
            if (rest.length > 1) throw new UsageError("usage: prismctl kv scan [PREFIX] [--limit N] [--keys-only]");
            const req = { prefix: rest[0] ?? "", limit: inv.limit, includeValues: !inv.keysOnly };
            for await (const page of handle.client.scan(req, opts)) {
              page.keys.forEach((k, i) => io.out(inv.keysOnly ? k : `${k}\t${new TextDecoder().decode(page.values[i])}`));
            }
            return 0;
          }
          default:
            throw new UsageError(`unknown kv command "${verb ?? ""}" (set, get, del, exists, ttl, expire, scan)`);
        }
      } finally {
        handle.close();
      }
    }
    case "caps": {
      if (verb !== undefined) throw new UsageError("usage: prismctl caps");
      const handle = createClient(KeyValuePattern, inv.addr);
      try {
        const caps = await handle.client.getCapabilities({}, opts);
        if (inv.json) io.out(JSON.stringify(caps, (_k, v) => (typeof v === "bigint" ? Number(v) : v)));
        else for (const line of formatCapabilities(inv.namespace ?? "default", caps)) io.out(line);
        return 0;
      } finally {
        handle.close();
      }
    }
    case "health":
      if (verb !== undefined) throw new UsageError("usage: prismctl health");
      return health(inv, opts, io);
    case "patterns":
      if (verb !== undefined) throw new UsageError("usage: prismctl patterns");
      return patterns(inv, io);
    case undefined:
      throw new UsageError("no command given");
    default:
      throw new UsageError(`unknown command "${group}"`);
  }
}

/** The proxy's grpc health, the namespace's, and the pattern's own HealthCheck (with debug details), all through the proxy. */
async function health(inv: Invocation, opts: CallOptions, io: Output): Promise<number> {
  const ns = inv.namespace ?? "default";
  const h = createClient(Health, inv.addr);
  try {
    const lifecycle = createClient(LifecycleInterface, h.raw).client;
    const proxy = (await h.client.check({ service: "" }, opts)).status;
    const namespace = (await h.client.check({ service: ns }, opts)).status;
    const pattern = await lifecycle.healthCheck({}, opts);
    const ok = proxy === Serving.SERVING && namespace === Serving.SERVING && pattern.status === HealthStatus.HEALTHY;
    if (inv.json) {
      io.out(
        JSON.stringify({
          proxy: Serving[proxy],
          namespace: ns,
          namespace_status: Serving[namespace],
          pattern: { status: HealthStatus[pattern.status], message: pattern.message, details: pattern.details },
        }),
      );
    } else {
      io.out(`proxy ${inv.addr}: ${Serving[proxy]}`);
      io.out(`namespace ${ns}: ${Serving[namespace]}`);
      const details = Object.entries(pattern.details)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([k, v]) => `${k}=${v}`)
        .join(" ");
      io.out(`pattern: ${HealthStatus[pattern.status]}${pattern.message ? ` (${pattern.message})` : ""}${details ? `  ${details}` : ""}`);
    }
    return ok ? 0 : 1;
  } finally {
    h.close();
  }
}

/** GET /patterns from the admin port. */
async function patterns(inv: Invocation, io: Output): Promise<number> {
  let res: Response;
  try {
    res = await fetch(`http://${inv.admin}/patterns`, { signal: AbortSignal.timeout(inv.timeoutMs) });
  } catch (err) {
    io.err(`prismctl: UNAVAILABLE: cannot reach the proxy admin port at ${inv.admin} (${(err as Error).message}); set --admin`);
    return 1;
  }
  if (!res.ok) {
    io.err(`prismctl: admin ${inv.admin}/patterns answered HTTP ${res.status}`);
    return 1;
  }
  const rows = (await res.json()) as PatternRow[];
  if (inv.json) io.out(JSON.stringify(rows, null, 2));
  else for (const line of formatPatterns(rows)) io.out(line);
  return rows.every((r) => r.ready) ? 0 : 1;
}
