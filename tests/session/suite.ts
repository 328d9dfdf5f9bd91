/**
 * What every Session Store answers the same way, whatever its shards: sessions and their versions, bounded
 * attributes, TTL and sliding expiry, compare-and-set races, owner listing across shards, capabilities.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Code } from "../../sdk/grpc/errors";
import { Consistency, SessionStorePattern, Support } from "../../proto/gen/prism/patterns/session/session_store_pattern_pb";
import { codeOf, connect, text, utf8 } from "../acceptance/target";
import { waitFor } from "../helpers/wait";
import { run, type SessionTarget } from "./targets";

type Client = ReturnType<typeof open>;
const open = (t: SessionTarget) => connect(t, { s: SessionStorePattern });

export function runSessionSuite(name: string, start: () => Promise<SessionTarget>): void {
  describe(`session store: ${name}`, () => {
    let t: SessionTarget;
    let c: Client;
    beforeAll(async () => {
      t = await start();
      c = open(t);
    }, 60_000);
    afterAll(async () => {
      c?.close();
      await t?.close();
    }, 30_000);

    test("capabilities come from the shards: consistent hashing over each of them, compare-and-set, limits", async () => {
      const caps = await c.s.getCapabilities({});
      expect(caps.sharding?.strategy).toBe("consistent-hash");
      expect(caps.sharding?.shards.map((s) => s.backendType)).toEqual(t.set.store.map(() => t.set.backend));
      expect(caps.sharding?.shards.map((s) => s.expiry)).toEqual(t.set.store.map(() => (t.set.backend === "postgres" ? Support.EMULATED : Support.NATIVE)));
      expect(caps.replication?.support).toBe(Support.UNAVAILABLE);
      expect(caps.consistency).toBe(Consistency.STRONG_PER_SESSION);
      expect(caps.compareAndSet).toBe(Support.NATIVE);
      expect(caps.limits?.maxAttributes).toBe(8);
      expect(caps.slots.map((s) => s.name)).toEqual(["store", "replication"]);
      expect(caps.bindings.filter((b) => b.slot === "store").length).toBe(t.set.store.length);
    });

    test("create, get, update (set / remove), delete; random 128-bit ids; NOT_FOUND and ABORTED", async () => {
      const owner = `user-${run()}`;
      const s = await c.s.createSession({ owner, attributes: { cart: utf8("a"), lang: utf8("en") }, ttlSeconds: 60 });
      expect(s.sessionId).toMatch(/^[0-9a-f]{32}$/);
      expect(s.version).toBe(1n);
      expect(Number(s.expiresAt - s.createdAt)).toBe(60_000);
      const again = await c.s.createSession({ owner, attributes: {}, ttlSeconds: 0 });
      expect(again.sessionId).not.toBe(s.sessionId);
      expect(again.ttlSeconds).toBe(120);
      const got = await c.s.getSession({ sessionId: s.sessionId });
      expect(got.found).toBe(true);
      expect(text(got.session!.attributes.cart!)).toBe("a");
      const u = await c.s.updateSession({ sessionId: s.sessionId, set: { cart: utf8("b") }, remove: ["lang"], expectedVersion: 1n });
      expect(u.version).toBe(2n);
      expect(Object.keys(u.attributes)).toEqual(["cart"]);
      expect(await codeOf(() => c.s.updateSession({ sessionId: s.sessionId, set: {}, remove: [], expectedVersion: 1n }))).toBe(Code.ABORTED);
      expect(await codeOf(() => c.s.updateSession({ sessionId: "f".repeat(32), set: {}, remove: [] }))).toBe(Code.NOT_FOUND);
      expect(await codeOf(() => c.s.getSession({ sessionId: "not-an-id" }))).toBe(Code.INVALID_ARGUMENT);
      expect(await codeOf(() => c.s.createSession({ owner: "", attributes: {}, ttlSeconds: 0 }))).toBe(Code.INVALID_ARGUMENT);
      expect((await c.s.deleteSession({ sessionId: s.sessionId })).found).toBe(true);
      expect((await c.s.deleteSession({ sessionId: s.sessionId })).found).toBe(false);
      expect((await c.s.getSession({ sessionId: s.sessionId })).found).toBe(false);
      expect(await codeOf(() => c.s.touch({ sessionId: s.sessionId, ttlSeconds: 0 }))).toBe(Code.NOT_FOUND);
    });

    test("attributes are bounded in count and bytes: RESOURCE_EXHAUSTED naming the limit", async () => {
      const nine = Object.fromEntries(Array.from({ length: 9 }, (_, i) => [`k${i}`, utf8("v")]));
      const err = await c.s.createSession({ owner: "o", attributes: nine, ttlSeconds: 60 }).catch((e) => e);
      expect(err.code).toBe(Code.RESOURCE_EXHAUSTED);
      expect(err.message).toContain("max_attributes 8");
      const s = await c.s.createSession({ owner: "o", attributes: {}, ttlSeconds: 60 });
      const big = await c.s.updateSession({ sessionId: s.sessionId, set: { blob: new Uint8Array(2000) }, remove: [] }).catch((e) => e);
      expect(big.code).toBe(Code.RESOURCE_EXHAUSTED);
      expect(big.message).toContain("max_attribute_bytes 1024");
      expect(await codeOf(() => c.s.createSession({ owner: "o", attributes: {}, ttlSeconds: 100_000 }))).toBe(Code.INVALID_ARGUMENT);
    });

    test("a session expires after its ttl; Touch slides the expiry and keeps the version", async () => {
      const owner = `ttl-${run()}`;
      const short = await c.s.createSession({ owner, attributes: {}, ttlSeconds: 1 });
      const sliding = await c.s.createSession({ owner, attributes: {}, ttlSeconds: 3 });
      const startedAt = Date.now();
      // Touched every 300 ms for 4.5 s: alive well past its first 3 s.
      while (Date.now() - startedAt < 4500) {
        const t2 = await c.s.touch({ sessionId: sliding.sessionId, ttlSeconds: 0 });
        expect(t2.version).toBe(1n);
        expect(t2.ttlSeconds).toBe(3);
        await Bun.sleep(300);
      }
      expect((await c.s.getSession({ sessionId: short.sessionId })).found).toBe(false);
      expect((await c.s.getSession({ sessionId: sliding.sessionId })).found).toBe(true);
      expect((await c.s.listSessions({ owner, limit: 0, cursor: "" })).sessions.map((s) => s.sessionId)).toEqual([sliding.sessionId]);
      // Left alone, it expires.
      await waitFor(async () => !(await c.s.getSession({ sessionId: sliding.sessionId })).found, "the untouched session to expire", {
        timeoutMs: 10_000,
        intervalMs: 200,
      });
    }, 30_000);

    test("compare-and-set race: of 12 concurrent writers at each version exactly one wins, the others are ABORTED", async () => {
      const s = await c.s.createSession({ owner: `cas-${run()}`, attributes: {}, ttlSeconds: 60 });
      for (let version = 1n; version <= 4n; version++) {
        const results = await Promise.allSettled(
          Array.from({ length: 12 }, (_, w) =>
            c.s.updateSession({ sessionId: s.sessionId, set: { w: utf8(String(w)) }, remove: [], expectedVersion: version }),
          ),
        );
        const won = results.filter((r) => r.status === "fulfilled");
        expect(won.length).toBe(1);
        expect((won[0] as PromiseFulfilledResult<{ version: bigint }>).value.version).toBe(version + 1n);
        for (const r of results) if (r.status === "rejected") expect((r.reason as { code: number }).code).toBe(Code.ABORTED);
      }
      expect((await c.s.getSession({ sessionId: s.sessionId })).session?.version).toBe(5n);
    });

    test("ListSessions pages an owner's sessions from every shard, each once, and no one else's", async () => {
      const owner = `list-${run()}`;
      const ids: string[] = [];
      for (let i = 0; i < 23; i++) ids.push((await c.s.createSession({ owner, attributes: {}, ttlSeconds: 60 })).sessionId);
      await c.s.createSession({ owner: `${owner}-other`, attributes: {}, ttlSeconds: 60 });
      const seen: string[] = [];
      let cursor = "";
      let pages = 0;
      do {
        const page = await c.s.listSessions({ owner, limit: 10, cursor });
        pages++;
        for (const s of page.sessions) expect(s.owner).toBe(owner);
        seen.push(...page.sessions.map((s) => s.sessionId));
        cursor = page.nextCursor;
      } while (cursor !== "" && pages < 10);
      expect(pages).toBe(3);
      expect(seen).toEqual(ids.toSorted());
    });
  });
}

/** Settings every suite target runs with (the limits test counts on them). */
export const SUITE_SETTINGS = { max_attributes: 8, max_attribute_bytes: "1KiB", default_ttl: "2m", max_ttl: "1h" };
