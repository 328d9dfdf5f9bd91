/**
 * A launched pattern killed with SIGKILL under a write load through dist/proxy, once per backend (memstore, redis,
 * nats, kafka, postgres). The proxy restarts it; every call is then checked against what happened to its write
 * (contract §5): answered OK = applied, answered UNAVAILABLE = not applied, any other failure UNKNOWN /
 * DEADLINE_EXCEEDED / CANCELLED (outcome unknown) — and no call waits for its deadline. Redis and NATS run on
 * servers of the test's own; Kafka and PostgreSQL on the shared services (only the pattern is killed), each under
 * a namespace of its own that is removed afterwards.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { codeName } from "../../sdk/grpc/errors";
import { kafkaBrokers, requireService } from "../helpers/services";
import { waitFor } from "../helpers/wait";
import { deleteNamespaceTopics } from "../kafka/target";
import { startNatsServer, type DedicatedNats } from "../nats/server";
import { dropNamespace, postgresConfig } from "../postgres/target";
import { clientsFor, startProxy, type StartedProxy } from "../proxy/harness";
import { startOwnRedis, type OwnRedis } from "../redis/harness";
import { Load } from "./load";
import { outcomeMismatches } from "./outcomes";
import { recordRow } from "./report";

const WRITERS = 16;
const DEADLINE_MS = 10_000;
/** Successful calls that show the load is running before the kill, and again after recovery (the tail). */
const STEADY_CALLS = 50;
const text = (s: string) => new TextEncoder().encode(s);
const str = (b: Uint8Array) => new TextDecoder().decode(b);
const suffix = randomBytes(3).toString("hex");

interface Row {
  backend: "memstore" | "redis" | "nats" | "kafka" | "postgres";
  namespace: string;
  /** Key-value writes (Set) or stream appends. */
  kv: boolean;
  /** A memory store forgets everything on a kill: only calls made after it can be checked against it. */
  volatile?: boolean;
}

const rows: Row[] = [
  { backend: "memstore", namespace: `kill-mem-${suffix}`, kv: true, volatile: true },
  { backend: "redis", namespace: `kill-redis-${suffix}`, kv: true },
  { backend: "nats", namespace: `kill-nats-${suffix}`, kv: false },
  { backend: "kafka", namespace: `kill-kafka-${suffix}`, kv: false },
  { backend: "postgres", namespace: `kill-pg-${suffix}`, kv: true },
];

describe("a pattern killed (SIGKILL) under load, through the proxy: every call's answer matches its write", () => {
  let redis: OwnRedis;
  let nats: DedicatedNats;
  let proxy: StartedProxy;

  beforeAll(async () => {
    await Promise.all([requireService("kafka"), requireService("postgres")]);
    [redis, nats] = await Promise.all([startOwnRedis(), startNatsServer()]);
    const settings = { health_interval: "1s", restart_initial_delay: "50ms", start_timeout: "60s" };
    const config: Record<Row["backend"], Record<string, unknown> | undefined> = {
      memstore: undefined,
      redis: { address: redis.address },
      nats: { url: nats.url, reconnect_wait: "50ms", reconnect_max_wait: "300ms" },
      kafka: { brokers: kafkaBrokers(), partitions: 1 },
      postgres: postgresConfig(),
    };
    proxy = await startProxy(
      JSON.stringify({
        namespaces: rows.map((r) => ({ name: r.namespace, pattern: r.backend, ...(config[r.backend] ? { config: config[r.backend] } : {}), settings })),
      }),
    );
  }, 90_000);

  afterAll(async () => {
    await proxy?.stop(20_000);
    proxy?.cleanup();
    await redis?.destroy();
    await nats?.close();
    await deleteNamespaceTopics(kafkaBrokers(), rows.find((r) => r.backend === "kafka")!.namespace);
    await dropNamespace(rows.find((r) => r.backend === "postgres")!.namespace).catch(() => undefined);
  });

  for (const row of rows) {
    test(`${row.backend}: OK applied, UNAVAILABLE not applied, the rest outcome-unknown; none waits for its deadline`, async () => {
      const c = clientsFor(proxy.address, row.namespace);
      const stream = `s-${suffix}`;
      const sent = new Map<number, string>();
      const write = async (seq: number) => {
        const value = `v${seq}-${randomBytes(4).toString("hex")}`;
        sent.set(seq, value);
        if (row.kv) await c.kv.set({ key: `k${seq}`, value: text(value) }, c.opts({ timeoutMs: DEADLINE_MS }));
        else await c.stream.append({ stream, payload: text(value) }, c.opts({ timeoutMs: DEADLINE_MS }));
      };
      // Warm: the namespace serves (the topic / stream exists) before the load.
      const warmUntil = performance.now() + 30_000;
      for (;;) {
        try {
          await write(0);
          break;
        } catch (err) {
          if (performance.now() > warmUntil) throw err;
          await Bun.sleep(100);
        }
      }

      const load = new Load(WRITERS, write, 10).start();
      await waitFor(() => load.succeededSince(0) >= STEADY_CALLS, `${STEADY_CALLS} calls succeeded before the kill`, { timeoutMs: 20_000 });
      const before = await proxy.pattern(row.namespace);
      const killAt = performance.now() - load.t0;
      process.kill(before.pid!, "SIGKILL");
      let recovered = Number.POSITIVE_INFINITY;
      const t0 = performance.now();
      while (performance.now() - t0 < 30_000) {
        const ok = load.records.find((r) => r.t > killAt && r.code === 0);
        if (ok && (await proxy.pattern(row.namespace)).pid !== before.pid) {
          recovered = ok.t + ok.ms - killAt;
          break;
        }
        await Bun.sleep(25);
      }
      // Not recovered fails below, on `recovered`.
      if (Number.isFinite(recovered))
        await waitFor(() => load.succeededSince(killAt + recovered) >= STEADY_CALLS, `${STEADY_CALLS} more calls succeeded after the restart`, {
          timeoutMs: 20_000,
        });
      const records = await load.stop();

      const stored = new Set<string>();
      if (row.kv) {
        const seqs = [...sent.keys()];
        for (let i = 0; i < seqs.length; i += 1000) {
          const chunk = seqs.slice(i, i + 1000);
          const got = await c.batch.batchGet({ keys: chunk.map((s) => `k${s}`) }, c.opts({ timeoutMs: 30_000 }));
          chunk.forEach((s, j) => {
            const r = got.results[j]!;
            if (r.found && str(r.value) === sent.get(s)) stored.add(sent.get(s)!);
          });
        }
      } else {
        for await (const m of c.stream.read({ stream, partition: 0, fromOffset: 0n }, c.opts({ timeoutMs: 60_000 }))) stored.add(str(m.payload));
      }
      const after = (await proxy.pattern(row.namespace)).restarts;
      c.close();

      // Calls that started after the kill reached the restarted process (the killed one runs no more code).
      const judged = row.volatile ? records.filter((r) => r.t > killAt) : records;
      const mismatches = outcomeMismatches(judged, (seq) => stored.has(sent.get(seq)!));
      const around = records.filter((r) => r.t + r.ms >= killAt);
      const failures: Record<string, number> = {};
      for (const r of around) if (r.code !== 0) failures[codeName(r.code)] = (failures[codeName(r.code)] ?? 0) + 1;
      const longest = Math.max(0, ...records.map((r) => r.ms));
      recordRow({
        backend: row.backend,
        fault: "pattern killed (SIGKILL) under load",
        calls: around.length,
        failures,
        maxCallMs: longest,
        recoveredAfterMs: recovered,
        acknowledgedWrites: records.filter((r) => r.code === 0).length,
        lost: mismatches.filter((m) => m.code === "OK").length,
      });
      if (mismatches.length > 0)
        console.log(`${row.backend}: ${mismatches.length} calls whose answer does not match their write, e.g. ${JSON.stringify(mismatches.slice(0, 3))}`);
      expect(mismatches.slice(0, 10)).toEqual([]);
      expect(longest).toBeLessThan(DEADLINE_MS / 2);
      expect(recovered).toBeLessThan(30_000);
      expect(after).toBeGreaterThanOrEqual(1);
    }, 60_000);
  }
});
