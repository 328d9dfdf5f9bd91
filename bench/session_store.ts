// The Session Store through dist/proxy (issue 22): CreateSession, GetSession and UpdateSession throughput and latency
// in a closed loop (--concurrency calls in flight), then GetSession paced at --rate calls/s (its p99 is the
// issue's target: < 5 ms at 1,000/s on Redis shards). Shards: three redis-servers of its own (stopped by pid) or
// three memstore shards.
// With --replication N: two regions (two dist/session-store run directly, each on its own key prefix of the same
// redis-servers, replicating through a nats-server of its own); N updates made one after another in one region, each
// timed until the other region serves its version (polled): the replication lag, p50 / p99.
//   bun bench/session_store.ts [--shards redis|memstore] [--duration 5s] [--concurrency 32] [--rate 1000] [--sessions 2000] [--replication 200] [--json FILE]
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

const { values: flags } = parseArgs({
  options: {
    shards: { type: "string", default: "redis" },
    duration: { type: "string", default: "5s" },
    concurrency: { type: "string", default: "32" },
    rate: { type: "string", default: "1000" },
    sessions: { type: "string", default: "2000" },
    replication: { type: "string", default: "0" },
    json: { type: "string" },
  },
});
const durationMs = parseDuration(flags.duration!) ?? Number.NaN;
if (!(durationMs > 0)) throw new Error(`--duration ${flags.duration}: expected a duration like 5s or 500ms`);
const concurrency = Number(flags.concurrency);
const rate = Number(flags.rate);
const sessions = Number(flags.sessions);

interface Row {
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
async function closedLoop(operation: string, call: (i: number) => Promise<unknown>): Promise<Row> {
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
async function paced(operation: string, call: (i: number) => Promise<unknown>): Promise<Row> {
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

/** Two regions over `servers` (own key prefixes) and a nats-server of their own: update in eu, poll us until it has it. */
async function replicationLag(servers: OwnRedis[], updates: number): Promise<{ updates: number; p50Ms: number; p99Ms: number; maxMs: number }> {
  const nats: DedicatedNats = await startNatsServer();
  const regions: ConfiguredPattern[] = [];
  try {
    for (const region of ["eu", "us"]) {
      const store = servers.map((s, i) => ({ driver: "redis", name: `${region}-${i}`, config: { address: s.address, key_prefix: `bench-${region}:` } }));
      regions.push(
        await configuredPattern("session-store", {
          namespace: "bench-repl",
          region,
          slots: { store, replication: { driver: "nats", config: { url: nats.url } } },
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
    return { updates, p50Ms: r2(quantile(sorted, 0.5)), p99Ms: r2(quantile(sorted, 0.99)), maxMs: r2(sorted[sorted.length - 1] ?? 0) };
  } finally {
    for (const r of regions) await r.close().catch(() => undefined);
    await nats.close();
  }
}

const servers: OwnRedis[] = [];
let stopProxy: (() => Promise<void>) | undefined;
try {
  let store: Record<string, unknown>[];
  if (flags.shards === "memstore") store = [0, 1, 2].map((i) => ({ driver: "memstore", name: `mem-${i}`, config: { max_keys: 10_000_000 } }));
  else {
    for (let i = 0; i < 3; i++) servers.push(await startOwnRedis({ args: () => ["--appendonly", "no"] }));
    store = servers.map((s, i) => ({ driver: "redis", name: `redis-${i}`, config: { address: s.address } }));
  }
  const target = await proxyTarget("session-store", "bench-sessions", { slots: { store } });
  stopProxy = target.close;
  const { client, close } = createClient(SessionStorePattern, target.address);
  const opts = { metadata: target.metadata };
  const ids: string[] = [];
  for (let i = 0; i < sessions; i += 100) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(100, sessions - i) }, () =>
        client.createSession({ owner: `owner-${i % 50}`, attributes: { cart: new Uint8Array(64) }, ttlSeconds: 600 }, opts),
      ),
    );
    ids.push(...batch.map((s) => s.sessionId));
  }
  const pick = (i: number) => ids[(i * 7919) % ids.length]!;
  const rows: Row[] = [];
  rows.push(
    await closedLoop("CreateSession", (i) =>
      client.createSession({ owner: `owner-${i % 50}`, attributes: { cart: new Uint8Array(64) }, ttlSeconds: 600 }, opts),
    ),
  );
  rows.push(await closedLoop("GetSession", (i) => client.getSession({ sessionId: pick(i) }, opts)));
  rows.push(await closedLoop("UpdateSession", (i) => client.updateSession({ sessionId: pick(i), set: { step: new Uint8Array([i & 255]) }, remove: [] }, opts)));
  rows.push(await paced("GetSession", (i) => client.getSession({ sessionId: pick(i) }, opts)));
  close();
  let lag: Awaited<ReturnType<typeof replicationLag>> | undefined;
  if (Number(flags.replication) > 0) {
    if (servers.length === 0) for (let i = 0; i < 3; i++) servers.push(await startOwnRedis({ args: () => ["--appendonly", "no"] }));
    lag = await replicationLag(servers, Number(flags.replication));
  }
  const result = { shards: `${flags.shards} x3`, durationMs, rows, replicationLag: lag };
  console.log(`Session Store through dist/proxy, ${result.shards} shards, ${flags.duration} per row:`);
  console.log("| operation | mode | calls | errors | calls/s | p50 ms | p99 ms |\n| --- | --- | ---: | ---: | ---: | ---: | ---: |");
  for (const r of rows) console.log(`| ${r.operation} | ${r.mode} | ${r.calls} | ${r.errors} | ${r.perS} | ${r.p50Ms} | ${r.p99Ms} |`);
  if (lag)
    console.log(
      `replication lag (update in eu until us serves it, ${lag.updates} updates one after another): p50 ${lag.p50Ms} ms, p99 ${lag.p99Ms} ms, max ${lag.maxMs} ms`,
    );
  if (flags.json) writeFileSync(flags.json, JSON.stringify(result, null, 2));
} finally {
  await stopProxy?.();
  await Promise.allSettled(servers.map((s) => s.destroy()));
}
