/**
 * The shard set of a Session Store over three redis-servers of the test's own: a shard that dies makes only its
 * sessions UNAVAILABLE, quickly; a shard added or removed (in a running store under load, and across a restart of
 * dist/session-store) moves about 1/N of the sessions and loses none.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Redis } from "ioredis";
import { SessionStorePattern } from "../../proto/gen/prism/patterns/session/session_store_pattern_pb";
import { Code } from "../../sdk/grpc/errors";
import { sessionStoreFrom } from "../../session-store/test_support";
import { connect } from "../acceptance/target";
import { configuredPattern } from "../helpers/process";
import { proxyTarget } from "../helpers/proxy_target";
import { waitFor } from "../helpers/wait";
import { type OwnRedis, startOwnRedis } from "../redis/harness";
import { run } from "./targets";

const shardConfig = (r: OwnRedis, i: number, draining = false) => ({
  driver: "redis",
  name: `redis-${i}`,
  draining,
  config: { address: r.address, command_timeout: "300ms", connect_timeout: "300ms", reconnect_max_delay: "200ms" },
});

/** Session ids stored on one redis-server under the namespace's prefix. */
async function idsOn(r: OwnRedis, namespace: string): Promise<Set<string>> {
  const c = new Redis(r.address, { maxRetriesPerRequest: 1, lazyConnect: true });
  try {
    await c.connect();
    const keys = await c.keys(`${namespace}:session/*`);
    return new Set(keys.map((k) => k.slice(`${namespace}:session/`.length)));
  } finally {
    c.disconnect();
  }
}

describe("session store shards (own redis-servers)", () => {
  const servers: OwnRedis[] = [];
  beforeAll(async () => {
    for (let i = 0; i < 4; i++) servers.push(await startOwnRedis());
  }, 60_000);
  afterAll(async () => {
    await Promise.allSettled(servers.map((s) => s.destroy()));
  });

  for (const via of ["direct", "through the proxy"] as const)
    test(`a hung, then a killed shard (${via}): only its sessions fail, each within a bound, the others answer; back after restart`, async () => {
      const namespace = `sess-kill-${run()}`;
      const config = { slots: { store: servers.slice(0, 3).map((s, i) => shardConfig(s, i)) } };
      const p: { address: string; metadata?: Record<string, string>; close(): Promise<void> } =
        via === "direct" ? await configuredPattern("session-store", { namespace, ...config }) : await proxyTarget("session-store", namespace, config);
      const c = connect({ address: p.address, metadata: p.metadata, close: async () => {} }, { s: SessionStorePattern });
      try {
        const ids: string[] = [];
        for (let i = 0; i < 60; i++) ids.push((await c.s.createSession({ owner: "kill", attributes: {}, ttlSeconds: 300 })).sessionId);
        const onVictim = await idsOn(servers[1]!, namespace);
        expect(onVictim.size).toBeGreaterThan(5);
        // A hung shard first (SIGSTOP: connections stay open, nothing answers): its sessions fail within the
        // driver's command_timeout, the others answer.
        const onHung = await idsOn(servers[2]!, namespace);
        servers[2]!.pause();
        let slowestHung = 0;
        try {
          for (const id of ids) {
            const started = performance.now();
            const code = await c.s.getSession({ sessionId: id }).then(
              (r) => (r.found ? Code.OK : Code.NOT_FOUND),
              (e) => e.code as number,
            );
            slowestHung = Math.max(slowestHung, performance.now() - started);
            if (onHung.has(id)) expect([Code.UNAVAILABLE, Code.DEADLINE_EXCEEDED] as number[]).toContain(code);
            else expect(code).toBe(Code.OK);
          }
        } finally {
          servers[2]!.resume();
        }
        console.log(`${via}: shard hung: ${onHung.size} of ${ids.length} sessions failed, the rest found; slowest answer ${slowestHung.toFixed(0)} ms`);
        expect(slowestHung).toBeLessThan(3000);
        await waitFor(
          async () => (await c.s.getSession({ sessionId: [...onHung][0]! }).catch(() => ({ found: false }))).found,
          "the resumed shard's sessions",
          {
            timeoutMs: 15_000,
            intervalMs: 200,
          },
        );
        await servers[1]!.stop("SIGKILL");
        let slowest = 0;
        for (const id of ids) {
          const started = performance.now();
          const code = await c.s.getSession({ sessionId: id }).then(
            (r) => (r.found ? Code.OK : Code.NOT_FOUND),
            (e) => e.code as number,
          );
          const ms = performance.now() - started;
          slowest = Math.max(slowest, ms);
          expect(code).toBe(onVictim.has(id) ? Code.UNAVAILABLE : Code.OK);
        }
        console.log(`${via}: shard killed: ${onVictim.size} of ${ids.length} sessions UNAVAILABLE, the rest found; slowest answer ${slowest.toFixed(0)} ms`);
        // command_timeout 300ms and the driver's breaker: never the client's 10 s defaults.
        expect(slowest).toBeLessThan(3000);
        await servers[1]!.restart();
        await waitFor(
          async () => (await c.s.getSession({ sessionId: [...onVictim][0]! }).catch(() => ({ found: false }))).found,
          "the restarted shard's sessions",
          {
            timeoutMs: 15_000,
            intervalMs: 200,
          },
        );
        for (const id of ids) expect((await c.s.getSession({ sessionId: id })).found).toBe(true);
      } finally {
        c.close();
        await p.close();
      }
    }, 60_000);

  test("adding and removing a shard in a running store under load: about 1/N moved, 0 sessions lost", async () => {
    const namespace = `sess-load-${run()}`;
    const three = await sessionStoreFrom({ slots: { store: servers.slice(0, 3).map((s, i) => shardConfig(s, i)) }, rebalance_interval: "200ms" }, namespace);
    const fourth = await sessionStoreFrom({ slots: { store: [shardConfig(servers[3]!, 3)] } }, namespace);
    const { store } = three;
    try {
      const ids: string[] = [];
      for (let i = 0; i < 400; i++) ids.push((await store.create("load", {}, 300)).id);
      const shards = store.shardList();
      let stop = false;
      let calls = 0;
      const failures: unknown[] = [];
      const worker = async (w: number) => {
        while (!stop) {
          try {
            ids.push((await store.create("load", {}, 300)).id);
            const probe = ids[(calls * 7 + w) % ids.length]!;
            if (!(await store.get(probe))) failures.push(`lost ${probe}`);
            await store.update(probe, { w: new Uint8Array([w]) }, []);
            calls++;
          } catch (err) {
            failures.push(err);
          }
        }
      };
      const load = Promise.all([0, 1, 2, 3].map(worker));
      const before = ids.length;
      store.reshard([...shards, ...fourth.store.shardList()]);
      const moving = ids.slice(0, before).filter((id) => store.ownerOf(id).name === "redis-3").length;
      await waitFor(() => !store.moving, "the move to the added shard", { timeoutMs: 20_000 });
      store.reshard([{ ...shards[0]!, draining: true }, ...shards.slice(1), ...fourth.store.shardList()]);
      await waitFor(() => !store.moving, "the move off the removed shard", { timeoutMs: 20_000 });
      stop = true;
      await load;
      expect(failures).toEqual([]);
      const lost = [];
      for (const id of ids) if (!(await store.get(id))) lost.push(id);
      expect(lost).toEqual([]);
      expect((await idsOn(servers[0]!, namespace)).size).toBe(0);
      const moves = (await three.registry.getSingleMetric("session_store_moves_total")!.get()).values[0]!.value;
      console.log(
        `added 1 shard to 3 under load: ${moving} of ${before} sessions (${((100 * moving) / before).toFixed(1)}%, ideal 25%) owned by it; ` +
          `then removed one of 4; ${calls} create+get+update rounds during the moves, ${ids.length} sessions, 0 lost, ${moves} moves`,
      );
    } finally {
      await three.close();
      await fourth.close().catch(() => undefined);
    }
  }, 60_000);

  test("dist/session-store restarted with a shard added, then one draining, then without it: every session found, the drained shard empty", async () => {
    const namespace = `sess-restart-${run()}`;
    const start = (store: ReturnType<typeof shardConfig>[]) => configuredPattern("session-store", { namespace, rebalance_interval: "200ms", slots: { store } });
    const ids: string[] = [];
    let p = await start(servers.slice(0, 3).map((s, i) => shardConfig(s, i)));
    const open = () => connect({ address: p.address, close: async () => {} }, { s: SessionStorePattern });
    let c = open();
    try {
      for (let i = 0; i < 200; i++) ids.push((await c.s.createSession({ owner: "restart", attributes: {}, ttlSeconds: 300 })).sessionId);
      const steps = [
        servers.map((s, i) => shardConfig(s, i)),
        servers.map((s, i) => shardConfig(s, i, i === 0)),
        servers.slice(1).map((s, i) => shardConfig(s, i + 1)),
      ];
      for (const store of steps) {
        c.close();
        await p.close();
        p = await start(store);
        c = open();
        for (const id of ids) expect((await c.s.getSession({ sessionId: id })).found).toBe(true);
      }
      expect((await idsOn(servers[0]!, namespace)).size).toBe(0);
      const counts = await Promise.all(servers.slice(1).map((s) => idsOn(s, namespace)));
      expect(counts.reduce((n, s) => n + s.size, 0)).toBe(ids.length);
    } finally {
      c.close();
      await p.close();
    }
  }, 60_000);
});
