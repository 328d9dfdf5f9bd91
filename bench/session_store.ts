// The Session Store through dist/proxy (issue 22): CreateSession, GetSession and UpdateSession throughput and latency
// in a closed loop (--concurrency calls in flight), then GetSession paced at --rate calls/s (its p99 is the
// issue's target: < 5 ms at 1,000/s on Redis shards). Shards: three redis-servers of its own (stopped by pid) or
// three memstore shards.
// With --replication N: two regions (two dist/session-store run directly, each on its own key prefix of the same
// redis-servers, replicating through the stream each --replication-driver names: a nats-server of their own, or
// Redis Streams on the first redis-server); N updates made one after another in one region, each timed until the
// other region serves its version (polled): the replication lag, p50 / p99.
//   bun bench/session_store.ts [--shards redis|memstore] [--duration 5s] [--concurrency 32] [--rate 1000] [--sessions 2000]
//     [--replication 200] [--replication-driver nats,redis] [--json FILE]
// `make bench` runs it as its "session-store" section (bench/run.ts, measureSessionStore).
// Needs dist/session-store and dist/proxy (make build-plugins).
import { writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { SessionStorePattern } from "../proto/gen/prism/patterns/session/session_store_pattern_pb";
import { parseDuration } from "../sdk/config/schema";
import { createClient } from "../sdk/grpc/client";
import { type ConfiguredPattern, configuredPattern } from "../tests/helpers/process";
import { proxyTarget } from "../tests/helpers/proxy_target";
import { type DedicatedNats, startNatsServer } from "../tests/nats/server";
import { type OwnRedis, startOwnRedis } from "../tests/redis/harness";

export interface SessionStoreSettings {
  shards: "redis" | "memstore";
  durationMs: number;
  concurrency: number;
  /** GetSession calls per second of the paced row. */
  rate: number;
  /** Sessions created before the rows (what Get and Update pick from). */
  sessions: number;
  /** Updates timed per replication driver; 0: no replication lag. */
  replicationUpdates: number;
  replicationDrivers: ReplicationDriver[];
}

export type ReplicationDriver = "nats" | "redis";

export interface ReplicationLag {
  driver: ReplicationDriver;
  updates: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** What one run measured: bench/results/latest.json's `sessionStore`. */
export interface SessionStoreResult {
  shards: string;
  durationMs: number;
  rows: Row[];
  replicationLag: ReplicationLag[];
  /** Set when the run failed (the rows measured before are kept). */
  reason?: string;
}

export interface Row {
  operation: string;
  mode: string;
  calls: number;
  errors: number;
  perS: number;
  p50Ms: number;
  p99Ms: number;
}

const quantile = (sorted: number[], q: number) => (sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!);
const row = (operation: string, mode: string, latencies: number[], errors: number, elapsedMs: number): Row => {
  const sorted = latencies.toSorted((a, b) => a - b);
  const r2 = (x: number) => Math.round(x * 100) / 100;
  return {
    operation,
    mode,
    calls: latencies.length,
    errors,
    perS: Math.round((latencies.length * 1000) / elapsedMs),
    p50Ms: r2(quantile(sorted, 0.5)),
    p99Ms: r2(quantile(sorted, 0.99)),
  };
};

/** `concurrency` loops calling `call` until the time is up. */
async function closedLoop({ durationMs, concurrency }: SessionStoreSettings, operation: string, call: (i: number) => Promise<unknown>): Promise<Row> {
  const latencies: number[] = [];
  let errors = 0;
  let n = 0;
  const started = performance.now();
  const end = started + durationMs;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        const t = performance.now();
        try {
          await call(n++);
          latencies.push(performance.now() - t);
        } catch {
          errors++;
        }
      }
    }),
  );
  return row(operation, `closed loop, ${concurrency} in flight`, latencies, errors, performance.now() - started);
}

/** Calls started at `rate` per second whatever the answers (open loop): latency includes any queueing. */
async function paced({ durationMs, rate }: SessionStoreSettings, operation: string, call: (i: number) => Promise<unknown>): Promise<Row> {
  const latencies: number[] = [];
  let errors = 0;
  const started = performance.now();
  const total = Math.round((rate * durationMs) / 1000);
  const inflight: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const due = started + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await Bun.sleep(wait);
    const t = performance.now();
    inflight.push(
      call(i).then(
        () => void latencies.push(performance.now() - t),
        () => void errors++,
      ),
    );
  }
  await Promise.all(inflight);
  return row(operation, `paced at ${rate}/s`, latencies, errors, performance.now() - started);
}

/**
 * Two regions over `servers` (own key prefixes) replicating through `driver` (a nats-server of their own, or Redis
 * Streams on the first server): update in eu, poll us until it has it.
 */
async function replicationLag(servers: OwnRedis[], driver: ReplicationDriver, updates: number): Promise<ReplicationLag> {
  const nats: DedicatedNats | undefined = driver === "nats" ? await startNatsServer() : undefined;
  const replication = nats
    ? { driver: "nats", config: { url: nats.url } }
    : { driver: "redis", config: { address: servers[0]!.address, key_prefix: `bench-repl-${driver}:` } };
  const regions: ConfiguredPattern[] = [];
  try {
    for (const region of ["eu", "us"]) {
      const store = servers.map((s, i) => ({
        driver: "redis",
        name: `${region}-${i}`,
        config: { address: s.address, key_prefix: `bench-${driver}-${region}:` },
      }));
      regions.push(
        await configuredPattern("session-store", {
          namespace: `bench-repl-${driver}`,
          region,
          slots: { store, replication },
        }),
      );
    }
    const [eu, us] = regions.map((r) => createClient(SessionStorePattern, r.address));
    const id = (await eu!.client.createSession({ owner: "lag", attributes: {}, ttlSeconds: 600 })).sessionId;
    const lags: number[] = [];
    for (let i = 0; i < updates; i++) {
      const t = performance.now();
      const { version } = await eu!.client.updateSession({ sessionId: id, set: { i: new Uint8Array([i & 255]) }, remove: [] });
      for (;;) {
        const got = await us!.client.getSession({ sessionId: id });
        if (got.found && got.session!.version >= version) break;
        if (performance.now() - t > 10_000) throw new Error(`update ${i} did not reach the other region within 10 s`);
      }
      lags.push(performance.now() - t);
    }
    eu!.close();
    us!.close();
    const sorted = lags.toSorted((a, b) => a - b);
    const r2 = (x: number) => Math.round(x * 100) / 100;
    return { driver, updates, p50Ms: r2(quantile(sorted, 0.5)), p99Ms: r2(quantile(sorted, 0.99)), maxMs: r2(sorted[sorted.length - 1] ?? 0) };
  } finally {
    for (const r of regions) await r.close().catch(() => undefined);
    await nats?.close();
  }
}

/** The rows through the proxy, then the replication lag per driver; a failure ends the run with its reason. */
export async function measureSessionStore(settings: SessionStoreSettings, log: (s: string) => void = () => {}): Promise<SessionStoreResult> {
  const result: SessionStoreResult = { shards: `${settings.shards} x3`, durationMs: settings.durationMs, rows: [], replicationLag: [] };
  const servers: OwnRedis[] = [];
  let stopProxy: (() => Promise<void>) | undefined;
  try {
    let store: Record<string, unknown>[];
    if (settings.shards === "memstore") store = [0, 1, 2].map((i) => ({ driver: "memstore", name: `mem-${i}`, config: { max_keys: 10_000_000 } }));
    else {
      for (let i = 0; i < 3; i++) servers.push(await startOwnRedis({ args: () => ["--appendonly", "no"] }));
      store = servers.map((s, i) => ({ driver: "redis", name: `redis-${i}`, config: { address: s.address } }));
    }
    const target = await proxyTarget("session-store", "bench-sessions", { slots: { store } });
    stopProxy = target.close;
    const { client, close } = createClient(SessionStorePattern, target.address);
    try {
      const opts = { metadata: target.metadata };
      const ids: string[] = [];
      for (let i = 0; i < settings.sessions; i += 100) {
        const batch = await Promise.all(
          Array.from({ length: Math.min(100, settings.sessions - i) }, () =>
            client.createSession({ owner: `owner-${i % 50}`, attributes: { cart: new Uint8Array(64) }, ttlSeconds: 600 }, opts),
          ),
        );
        ids.push(...batch.map((s) => s.sessionId));
      }
      const pick = (i: number) => ids[(i * 7919) % ids.length]!;
      const step = async (r: Promise<Row>) => {
        const row = await r;
        result.rows.push(row);
        log(`  ${row.operation}, ${row.mode}: ${row.perS}/s, p50 ${row.p50Ms} ms, p99 ${row.p99Ms} ms, ${row.errors} errors`);
      };
      await step(
        closedLoop(settings, "CreateSession", (i) =>
          client.createSession({ owner: `owner-${i % 50}`, attributes: { cart: new Uint8Array(64) }, ttlSeconds: 600 }, opts),
        ),
      );
      await step(closedLoop(settings, "GetSession", (i) => client.getSession({ sessionId: pick(i) }, opts)));
      await step(
        closedLoop(settings, "UpdateSession", (i) => client.updateSession({ sessionId: pick(i), set: { step: new Uint8Array([i & 255]) }, remove: [] }, opts)),
      );
      await step(paced(settings, "GetSession", (i) => client.getSession({ sessionId: pick(i) }, opts)));
    } finally {
      close();
    }
    if (settings.replicationUpdates > 0) {
      if (servers.length === 0) for (let i = 0; i < 3; i++) servers.push(await startOwnRedis({ args: () => ["--appendonly", "no"] }));
      for (const driver of settings.replicationDrivers) {
        const lag = await replicationLag(servers, driver, settings.replicationUpdates);
        result.replicationLag.push(lag);
        log(`  replication lag over ${driver}: p50 ${lag.p50Ms} ms, p99 ${lag.p99Ms} ms`);
      }
    }
  } catch (err) {
    result.reason = (err as Error).message.split("\n")[0]!.slice(0, 200);
  } finally {
    await stopProxy?.();
    await Promise.allSettled(servers.map((s) => s.destroy()));
  }
  return result;
}

const DRIVER_LABEL: Record<ReplicationDriver, string> = { nats: "NATS JetStream", redis: "Redis Streams" };

/** The section's tables: the rows through the proxy, then the replication lag per driver. */
export function sessionStoreMarkdown(r: SessionStoreResult): string {
  const lines = ["| operation | mode | calls | errors | calls/s | p50 ms | p99 ms |", "| --- | --- | ---: | ---: | ---: | ---: | ---: |"];
  for (const x of r.rows) lines.push(`| ${x.operation} | ${x.mode} | ${x.calls} | ${x.errors} | ${x.perS} | ${x.p50Ms} | ${x.p99Ms} |`);
  if (r.replicationLag.length > 0) {
    lines.push("", "| replication over | updates | lag p50 ms | lag p99 ms | max ms |", "| --- | ---: | ---: | ---: | ---: |");
    for (const l of r.replicationLag) lines.push(`| ${DRIVER_LABEL[l.driver]} | ${l.updates} | ${l.p50Ms} | ${l.p99Ms} | ${l.maxMs} |`);
  }
  const paced = r.rows.find((x) => x.mode.startsWith("paced"));
  if (paced && r.shards.startsWith("redis")) {
    const met = paced.errors === 0 && paced.p99Ms < 5;
    lines.push(
      "",
      `Target (issue 22): GetSession p99 < 5 ms ${paced.mode} on Redis shards: ${met ? "met" : "not met"} (${paced.p99Ms} ms, ${paced.errors} errors).`,
    );
  }
  if (r.reason) lines.push("", `Not complete: ${r.reason}`);
  return lines.join("\n") + "\n";
}

if (import.meta.main) {
  const { values: flags } = parseArgs({
    options: {
      shards: { type: "string", default: "redis" },
      duration: { type: "string", default: "5s" },
      concurrency: { type: "string", default: "32" },
      rate: { type: "string", default: "1000" },
      sessions: { type: "string", default: "2000" },
      replication: { type: "string", default: "0" },
      "replication-driver": { type: "string", default: "nats" },
      json: { type: "string" },
    },
  });
  const durationMs = parseDuration(flags.duration!) ?? Number.NaN;
  if (!(durationMs > 0)) throw new Error(`--duration ${flags.duration}: expected a duration like 5s or 500ms`);
  if (flags.shards !== "redis" && flags.shards !== "memstore") throw new Error(`--shards ${flags.shards}: expected redis or memstore`);
  const drivers = flags["replication-driver"]!.split(",");
  for (const d of drivers) if (d !== "nats" && d !== "redis") throw new Error(`--replication-driver ${d}: expected nats or redis`);
  const result = await measureSessionStore(
    {
      shards: flags.shards,
      durationMs,
      concurrency: Number(flags.concurrency),
      rate: Number(flags.rate),
      sessions: Number(flags.sessions),
      replicationUpdates: Number(flags.replication),
      replicationDrivers: drivers as ReplicationDriver[],
    },
    (s) => process.stderr.write(`${s}\n`),
  );
  console.log(`Session Store through dist/proxy, ${result.shards} shards, ${flags.duration} per row:`);
  process.stdout.write(sessionStoreMarkdown(result));
  if (flags.json) writeFileSync(flags.json, JSON.stringify(result, null, 2));
  process.exit(result.reason ? 1 : 0);
}
