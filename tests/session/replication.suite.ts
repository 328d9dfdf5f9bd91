/**
 * Two regions on this machine: two dist/session-store processes, each with its own two Redis shards (own key
 * prefixes on the shared server), replicating through a stream backend the suite's caller starts. Concurrent
 * updates of the same sessions converge to the same state in both, chosen by the rule (highest version, then
 * region id); each region reads its own writes at once; a region stopped while the other changed sessions catches
 * up on restart. Run it from a one-line test file per stream backend (replication.test.ts: NATS JetStream,
 * replication_redis.test.ts: Redis Streams).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Redis } from "ioredis";
import { SessionStorePattern } from "../../proto/gen/prism/patterns/session/session_store_pattern_pb";
import { connect, text, utf8 } from "../acceptance/target";
import { type ConfiguredPattern, configuredPattern } from "../helpers/process";
import { waitFor } from "../helpers/wait";
import { deletePrefix, freePort, sharedRedisAddress } from "../redis/harness";
import { run } from "./targets";

/** The replication slot's backend: started once for the suite, stopped (and its data removed) at the end. */
export interface ReplicationBackend {
  /** The slot's value, `{ driver, config }`, the same for both regions. */
  readonly slot: { driver: string; config: Record<string, unknown> };
  close(): Promise<void>;
}

type Client = ReturnType<typeof clientOf>;
const clientOf = (p: ConfiguredPattern) => connect({ address: p.address, close: async () => {} }, { s: SessionStorePattern });

export function runReplicationSuite(name: string, startBackend: () => Promise<ReplicationBackend>): void {
  describe(`session store replication across two regions (${name})`, () => {
    const namespace = `sess-repl-${run()}`;
    let backend: ReplicationBackend;
    let redis: string;
    const regions: Record<string, { p: ConfiguredPattern; c: Client; metrics: number }> = {};

    const prefix = (region: string, i: number) => `${namespace}-${region}-${i}:`;
    const start = async (region: string) => {
      const metrics = await freePort();
      const p = await configuredPattern(
        "session-store",
        {
          namespace,
          region,
          replication_checkpoint_interval: "100ms",
          slots: {
            store: [0, 1].map((i) => ({ driver: "redis", name: `${region}-${i}`, config: { address: redis, key_prefix: prefix(region, i) } })),
            replication: backend.slot,
          },
        },
        undefined,
        ["--metrics-port", String(metrics)],
      );
      regions[region] = { p, c: clientOf(p), metrics };
    };
    const stop = async (region: string) => {
      regions[region]!.c.close();
      await regions[region]!.p.close();
    };

    beforeAll(async () => {
      backend = await startBackend();
      redis = await sharedRedisAddress();
      await start("eu");
      await start("us");
    }, 60_000);

    afterAll(async () => {
      for (const r of Object.keys(regions)) await stop(r);
      await backend?.close();
      const r = new Redis(redis, { maxRetriesPerRequest: 1 });
      try {
        for (const region of ["eu", "us"]) for (const i of [0, 1]) await deletePrefix(r, prefix(region, i));
      } finally {
        r.disconnect();
      }
    }, 30_000);

    const stateIn = async (region: string, id: string) => {
      const r = await regions[region]!.c.s.getSession({ sessionId: id });
      if (!r.found) return "absent";
      const s = r.session!;
      const attrs = Object.entries(s.attributes)
        .map(([k, v]) => `${k}=${text(v)}`)
        .sort()
        .join(",");
      return `v${s.version}/${s.region}/${attrs}`;
    };

    test("concurrent updates of the same sessions in both regions converge by highest version, then region id; each region reads its own writes", async () => {
      const { eu, us } = regions as Record<string, { c: Client }>;
      const ids: string[] = [];
      for (let i = 0; i < 20; i++) ids.push((await eu!.c.s.createSession({ owner: "both", attributes: { n: utf8(String(i)) }, ttlSeconds: 600 })).sessionId);
      const lags: number[] = [];
      for (const id of ids.slice(0, 5)) {
        const started = performance.now();
        await waitFor(async () => (await us!.c.s.getSession({ sessionId: id })).found, "a session created in eu to reach us", {
          timeoutMs: 10_000,
          intervalMs: 5,
        });
        lags.push(performance.now() - started);
      }
      await waitFor(async () => (await Promise.all(ids.map((id) => stateIn("us", id)))).every((s) => s !== "absent"), "every session in us");

      const writer = async (region: "eu" | "us", rounds: number) => {
        const c = regions[region]!.c;
        for (let round = 0; round < rounds; round++) {
          await Promise.all(
            ids.map(async (id) => {
              const mine = await c.s.updateSession({ sessionId: id, set: { [region]: utf8(String(round)), last: utf8(region) }, remove: [] });
              // Read-your-writes: this region never reads a version older than the one it just wrote.
              const seen = await c.s.getSession({ sessionId: id });
              expect(seen.found).toBe(true);
              expect(seen.session!.version).toBeGreaterThanOrEqual(mine.version);
            }),
          );
        }
      };
      await Promise.all([writer("eu", 3), writer("us", 3)]);

      let finals: string[] = [];
      await waitFor(
        async () => {
          const [a, b] = await Promise.all([Promise.all(ids.map((id) => stateIn("eu", id))), Promise.all(ids.map((id) => stateIn("us", id)))]);
          finals = a;
          return a.every((s, i) => s === b[i]);
        },
        "both regions to hold the same sessions",
        { timeoutMs: 15_000, intervalMs: 100 },
      );
      // Each session went through at least 4 versions (create, then 3 rounds in each region, some of them tied).
      for (const s of finals) expect(Number(/^v(\d+)/.exec(s)![1])).toBeGreaterThanOrEqual(4);
      // The receiving regions count what they applied, the conflicts the rule resolved, and the lag.
      const scrape = async (region: string) => (await fetch(`http://127.0.0.1:${regions[region]!.metrics}/metrics`)).text();
      const metric = (body: string, name: string) =>
        body
          .split("\n")
          .filter((l) => l.startsWith(name))
          .reduce((n, l) => n + Number(l.split(" ").pop()), 0);
      const [euMetrics, usMetrics] = await Promise.all([scrape("eu"), scrape("us")]);
      expect(metric(usMetrics, "session_store_replication_applied_total")).toBeGreaterThanOrEqual(ids.length);
      expect(metric(usMetrics, "session_store_replication_lag_seconds_count")).toBeGreaterThan(0);
      expect(metric(euMetrics, "session_store_sessions{")).toBeGreaterThanOrEqual(ids.length);
      const conflicts = metric(euMetrics, "session_store_replication_conflicts_total") + metric(usMetrics, "session_store_replication_conflicts_total");
      const sorted = lags.toSorted((x, y) => x - y);
      console.log(
        `converged: ${ids.length} sessions updated 3 times in each region at once; create-to-visible-in-the-other-region ${sorted.map((l) => l.toFixed(0)).join("/")} ms; ${conflicts} same-version conflicts resolved by region id`,
      );
    }, 60_000);

    test("a region stopped while the other creates, updates and deletes sessions catches up when it starts again", async () => {
      const eu = regions.eu!.c;
      const before: string[] = [];
      for (let i = 0; i < 10; i++) before.push((await eu.s.createSession({ owner: "catch-up", attributes: {}, ttlSeconds: 600 })).sessionId);
      await waitFor(async () => (await Promise.all(before.map((id) => stateIn("us", id)))).every((s) => s !== "absent"), "us to have the sessions");
      await stop("us");
      // The 30 s down, scaled for the suite: changes keep coming in eu for 3 s while us is away.
      const created: string[] = [];
      const deadline = Date.now() + 3000;
      let round = 0;
      while (Date.now() < deadline) {
        created.push((await eu.s.createSession({ owner: "catch-up", attributes: { round: utf8(String(round)) }, ttlSeconds: 600 })).sessionId);
        await eu.s.updateSession({ sessionId: before[round % 5]!, set: { round: utf8(String(round)) }, remove: [] });
        round++;
        await Bun.sleep(100);
      }
      for (const id of before.slice(5)) expect((await eu.s.deleteSession({ sessionId: id })).found).toBe(true);
      await start("us");
      const all = [...before, ...created];
      await waitFor(
        async () => {
          const [a, b] = await Promise.all([Promise.all(all.map((id) => stateIn("eu", id))), Promise.all(all.map((id) => stateIn("us", id)))]);
          return a.every((s, i) => s === b[i]);
        },
        "us to catch up with eu",
        { timeoutMs: 20_000, intervalMs: 200 },
      );
      for (const id of before.slice(5)) expect(await stateIn("us", id)).toBe("absent");
      for (const id of created) expect(await stateIn("us", id)).not.toBe("absent");
      console.log(`caught up: ${created.length} sessions created, ${round} updates and 5 deletes made while us was stopped for 3 s`);
    }, 60_000);
  });
}
