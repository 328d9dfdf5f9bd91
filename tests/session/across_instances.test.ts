/**
 * Stateful patterns across instances (issue 24 item 3), the Session Store: two dist/session-store processes of one
 * namespace over the same shards (two redis-servers of the test's own, or two PostgreSQL tables). A session
 * created through instance A is read, updated with compare-and-set, touched, listed and deleted through B and the
 * other way round; of concurrent compare-and-set updates at one version sent to both instances exactly one
 * succeeds. Then the same behind the proxy with `replicas: 2`: calls spread over both instances, and every read
 * sees the last acknowledged write, whichever instance served it.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { SessionStorePattern } from "../../proto/gen/prism/patterns/session/session_store_pattern_pb";
import { createClient } from "../../sdk/grpc/client";
import { Code, PrismError } from "../../sdk/grpc/errors";
import { text, utf8 } from "../acceptance/target";
import { type ConfiguredPattern, configuredPattern } from "../helpers/process";
import { killIfAlive, type PatternSnapshot, requireBuilt, startProxy } from "../proxy/harness";
import { run, type ShardKind, type ShardSet, shardSet } from "./targets";

type Store = ReturnType<typeof createClient<typeof SessionStorePattern>>["client"];
type Replica = { pid: number | null; in_flight: number; calls: number };

const codeOf = (p: Promise<unknown>) =>
  p.then(
    () => Code.OK,
    (err) => PrismError.from(err).code,
  );

/** `n` concurrent compare-and-set updates at version `at` (the i-th through `via(i)`): how many succeed, and the codes of the rest. */
async function race(via: (i: number) => Store, id: string, at: bigint, n: number, opts = {}) {
  const codes = await Promise.all(
    Array.from({ length: n }, (_, i) => codeOf(via(i).updateSession({ sessionId: id, set: { winner: utf8(`w${i}`) }, remove: [], expectedVersion: at }, opts))),
  );
  return { ok: codes.filter((c) => c === Code.OK).length, others: [...new Set(codes.filter((c) => c !== Code.OK))] };
}

for (const kind of ["redis", "postgres"] as ShardKind[]) {
  describe(`Session Store: two instances over shared ${kind} shards`, () => {
    let set: ShardSet;
    const instances: ConfiguredPattern[] = [];
    const ns = `sess-across-${run()}`;

    beforeAll(async () => {
      requireBuilt("session-store");
      set = await shardSet(kind, 2);
      instances.push(...(await Promise.all([0, 1].map(() => configuredPattern("session-store", { namespace: ns, slots: { store: set.store } })))));
    }, 60_000);
    afterAll(async () => {
      await Promise.all(instances.map((i) => i.close()));
      await set?.cleanup();
    }, 30_000);

    test("written through one instance, read and compare-and-set through the other", async () => {
      const [ca, cb] = instances.map((i) => createClient(SessionStorePattern, i.address));
      const [a, b] = [ca!.client, cb!.client];
      try {
        const owner = `owner-${run()}`;
        const created = await a.createSession({ owner, attributes: { cart: utf8("1") }, ttlSeconds: 60 });
        const viaB = await b.getSession({ sessionId: created.sessionId });
        expect(viaB.found).toBe(true);
        expect(text(viaB.session!.attributes.cart!)).toBe("1");
        expect(viaB.session!.version).toBe(1n);

        // Compare-and-set through B at the version A wrote; A's stale one is then ABORTED.
        expect((await b.updateSession({ sessionId: created.sessionId, set: { cart: utf8("2") }, remove: [], expectedVersion: 1n })).version).toBe(2n);
        expect(await codeOf(a.updateSession({ sessionId: created.sessionId, set: { cart: utf8("stale") }, remove: [], expectedVersion: 1n }))).toBe(
          Code.ABORTED,
        );
        expect(text((await a.getSession({ sessionId: created.sessionId })).session!.attributes.cart!)).toBe("2");

        // Touch through A keeps the version B holds.
        await a.touch({ sessionId: created.sessionId, ttlSeconds: 120 });
        expect((await b.updateSession({ sessionId: created.sessionId, set: {}, remove: ["cart"], expectedVersion: 2n })).version).toBe(3n);

        // Sessions created through both, listed through each (the owner index lives on the shared shards).
        const more = await Promise.all([a, b, a, b].map((c) => c.createSession({ owner, attributes: {}, ttlSeconds: 60 })));
        const ids = [created, ...more].map((s) => s.sessionId).sort();
        for (const c of [a, b]) expect((await c.listSessions({ owner, limit: 100, cursor: "" })).sessions.map((s) => s.sessionId)).toEqual(ids);

        // Racing compare-and-set through both instances: exactly one wins each round.
        for (const s of more) {
          const r = await race((i) => (i % 2 ? b : a), s.sessionId, 1n, 8);
          expect(r.ok).toBe(1);
          expect(r.others).toEqual([Code.ABORTED]);
          expect((await b.getSession({ sessionId: s.sessionId })).session!.version).toBe(2n);
        }

        expect((await b.deleteSession({ sessionId: created.sessionId })).found).toBe(true);
        expect((await a.getSession({ sessionId: created.sessionId })).found).toBe(false);
      } finally {
        ca!.close();
        cb!.close();
      }
    }, 30_000);
  });
}

describe("Session Store behind the proxy with replicas: 2 over shared redis shards", () => {
  test("calls spread over both instances; every read sees the last acknowledged write; CAS exact", async () => {
    requireBuilt("session-store");
    const set = await shardSet("redis", 2);
    const ns = `sess-replicas-${run()}`;
    const proxy = await startProxy(
      JSON.stringify({
        namespaces: [{ name: ns, pattern: "session-store", replicas: 2, config: { slots: { store: set.store } }, settings: { health_interval: "500ms" } }],
      }),
    );
    const replicas = async () => ((await proxy.pattern(ns)) as PatternSnapshot & { replicas: Replica[] }).replicas;
    const pids = (await replicas()).map((r) => r.pid!).filter(Boolean);
    const c = createClient(SessionStorePattern, proxy.address);
    const s = c.client;
    const opts = { timeoutMs: 10_000, metadata: { "x-prism-namespace": ns } };
    try {
      expect(pids.length).toBe(2);
      const owner = `owner-${run()}`;
      // Several workers at once, so least-outstanding-calls has both instances to choose from.
      const sessions = await Promise.all(
        Array.from({ length: 8 }, async (_, w) => {
          const made = await s.createSession({ owner, attributes: { n: utf8("0") }, ttlSeconds: 60 }, opts);
          let version = made.version;
          for (let i = 1; i <= 10; i++) {
            const got = await s.getSession({ sessionId: made.sessionId }, opts);
            expect(got.session!.version).toBe(version);
            expect(text(got.session!.attributes.n!)).toBe(String(i - 1));
            version = (await s.updateSession({ sessionId: made.sessionId, set: { n: utf8(String(i)) }, remove: [], expectedVersion: version }, opts)).version;
          }
          return { id: made.sessionId, worker: w, version };
        }),
      );
      expect(sessions.every((x) => x.version === 11n)).toBe(true);
      expect((await s.listSessions({ owner, limit: 100, cursor: "" }, opts)).sessions.length).toBe(8);

      for (const x of sessions.slice(0, 4)) {
        const r = await race(() => s, x.id, x.version, 8, opts);
        expect(r.ok).toBe(1);
        expect(r.others).toEqual([Code.ABORTED]);
      }

      const calls = (await replicas()).map((r) => r.calls);
      console.log(`session calls per instance: ${calls.join(" / ")}`);
      for (const n of calls) expect(n).toBeGreaterThan(20);
    } finally {
      c.close();
      await proxy.stop();
      proxy.cleanup();
      killIfAlive(pids);
      await set.cleanup();
    }
  }, 60_000);
});
