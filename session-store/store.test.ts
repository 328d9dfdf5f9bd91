import { afterEach, describe, expect, test } from "bun:test";
import { Code, PrismError } from "@prism/sdk";
import { bytes, sessionStoreFrom, text } from "./test_support";

const open: { close(): Promise<void> }[] = [];
afterEach(async () => {
  for (const s of open.splice(0)) await s.close();
});

async function memShards(n: number, extra: Record<string, unknown> = {}) {
  const s = await sessionStoreFrom({
    slots: { store: Array.from({ length: n }, (_, i) => ({ driver: "memstore", name: `m${i}` })) },
    rebalance_interval: "1s",
    ...extra,
  });
  open.push(s);
  return s;
}

const codeOf = (p: Promise<unknown>) =>
  p.then(
    () => undefined,
    (e) => PrismError.from(e).code,
  );

describe("SessionStore over memstore shards", () => {
  test("create, get, update, touch, delete; ids are 128-bit random hex, never the owner's", async () => {
    const { store } = await memShards(3);
    const a = await store.create("alice", { cart: bytes("1") }, 60);
    const b = await store.create("alice", {}, 0);
    expect(a.id).toMatch(/^[0-9a-f]{32}$/);
    expect(a.id).not.toBe(b.id);
    expect(a.id).not.toContain("alice");
    expect(b.ttlSeconds).toBe(1800);
    const got = await store.get(a.id);
    expect(text(got?.attributes.cart)).toBe("1");
    expect(got?.version).toBe(1);
    const u = await store.update(a.id, { cart: bytes("2"), x: bytes("y") }, [], 1);
    expect(u.version).toBe(2);
    const r = await store.update(a.id, {}, ["x"]);
    expect(Object.keys(r.attributes)).toEqual(["cart"]);
    const stale = PrismError.from(await store.update(a.id, {}, [], 1).catch((e) => e));
    expect([stale.code, stale.metadata?.["x-prism-current-version"]]).toEqual([Code.ABORTED, "3"]);
    expect(await codeOf(store.update("0".repeat(32), {}, []))).toBe(Code.NOT_FOUND);
    const t = await store.touch(a.id, 120);
    expect(t.version).toBe(3);
    expect(t.expiresAt).toBeGreaterThan(a.expiresAt);
    expect(await store.delete(a.id)).toBe(true);
    expect(await store.delete(a.id)).toBe(false);
    expect(await store.get(a.id)).toBeUndefined();
  });

  test("attributes are bounded in count and bytes, naming the limit", async () => {
    const { store } = await memShards(1, { max_attributes: 2, max_attribute_bytes: 10 });
    const many = await store.create("o", { a: bytes("1"), b: bytes("2") }, 60).catch((e) => e);
    expect(many.id).toBeDefined();
    const e1 = await store.create("o", { a: bytes(""), b: bytes(""), c: bytes("") }, 60).catch((e) => e);
    expect(PrismError.from(e1).code).toBe(Code.RESOURCE_EXHAUSTED);
    expect(e1.message).toContain("max_attributes 2");
    const e2 = await store.update(many.id, { a: bytes("0123456789") }, []).catch((e) => e);
    expect(PrismError.from(e2).code).toBe(Code.RESOURCE_EXHAUSTED);
    expect(e2.message).toContain("max_attribute_bytes 10");
  });

  test("list pages an owner's sessions across shards, in id order", async () => {
    const { store } = await memShards(3);
    const ids = new Set<string>();
    for (let i = 0; i < 25; i++) ids.add((await store.create("bob", {}, 60)).id);
    await store.create("carol", {}, 60);
    const seen: string[] = [];
    let cursor = "";
    do {
      const page = await store.list("bob", 10, cursor, new AbortController().signal);
      expect(page.sessions.length).toBeLessThanOrEqual(10);
      seen.push(...page.sessions.map((s) => s.id));
      cursor = page.next;
    } while (cursor !== "");
    expect(seen).toEqual([...ids].sort());
  });

  test("compare-and-set: of N concurrent writers at one version exactly one wins", async () => {
    const { store } = await memShards(2);
    const s = await store.create("o", {}, 60);
    for (let version = 1; version <= 5; version++) {
      const results = await Promise.allSettled(Array.from({ length: 16 }, (_, w) => store.update(s.id, { w: bytes(String(w)) }, [], version)));
      const won = results.filter((r) => r.status === "fulfilled");
      expect(won.length).toBe(1);
      // Losers answer ABORTED with a version past theirs (the winner's, or a later one by now).
      for (const r of results)
        if (r.status === "rejected") {
          const e = PrismError.from(r.reason);
          expect(e.code).toBe(Code.ABORTED);
          expect(Number(e.metadata?.["x-prism-current-version"])).toBeGreaterThan(version);
        }
    }
    expect((await store.get(s.id))?.version).toBe(6);
  });

  test("adding and removing a shard under load loses no session; moves happen on access and in the background", async () => {
    const inst = await memShards(3);
    const { store } = inst;
    const shards = store.shardList();
    const ids: string[] = [];
    for (let i = 0; i < 300; i++) ids.push((await store.create("load", {}, 60)).id);
    const extra = await sessionStoreFrom({ slots: { store: [{ driver: "memstore", name: "m3" }] } });
    open.push(extra);
    let stop = false;
    const load = (async () => {
      let n = 0;
      while (!stop) {
        ids.push((await store.create("load", {}, 60)).id);
        const probe = ids[n++ % ids.length]!;
        expect(await store.get(probe)).toBeDefined();
        await new Promise((r) => setTimeout(r, 2));
      }
    })();
    store.reshard([...shards, ...extra.store.shardList()]);
    const owned = ids.filter((id) => store.ownerOf(id).name === "m3").length;
    await waitUntil(() => !store.moving, 10_000);
    expect(owned).toBeGreaterThan(0);
    store.reshard([...shards.filter((s) => s.name !== "m0"), { ...shards[0]!, draining: true }, ...extra.store.shardList()]);
    await waitUntil(() => !store.moving, 10_000);
    stop = true;
    await load;
    for (const id of ids) expect(await store.get(id)).toBeDefined();
    expect(await shards[0]!.driver.count("session/")).toBe(0);
    const moves = await inst.registry.getSingleMetricAsString("session_store_moves_total");
    console.log(`${ids.length} sessions, ${owned} owned by the added shard; ${moves.split("\n").pop()}`);
  });
});

async function waitUntil(check: () => boolean, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 20));
  }
}
