/**
 * The Session Store through dist/proxy and dist/session-store (two memstore shards): the client's session module
 * and prismctl's session commands — create/get/update/touch/delete/list, compare-and-set conflicts naming the
 * current version, not_found for a missing session, cursors, caps.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { connect, type PrismClient, PrismClientError } from "../../client/src/index";
import { requireBuilt } from "../proxy/harness";
import { type RunningProxy, startProxy, prismctlOn } from "./proxy";

let proxy: RunningProxy;
let client: PrismClient;
const run = crypto.randomUUID().slice(0, 8);
const decoder = new TextDecoder();

beforeAll(async () => {
  requireBuilt("prismctl", "proxy", "session-store");
  proxy = await startProxy([
    {
      name: "sessions",
      pattern: "session-store",
      config: {
        region: "test",
        slots: {
          store: [
            { driver: "memstore", name: "m1" },
            { driver: "memstore", name: "m2" },
          ],
        },
      },
    },
  ]);
  client = await connect({ address: proxy.address, namespace: "sessions", deadline: 10_000 });
}, 90_000);
afterAll(async () => {
  client?.close();
  await proxy?.close();
});

async function rejection(p: Promise<unknown>): Promise<PrismClientError> {
  try {
    await p;
  } catch (err) {
    return err as PrismClientError;
  }
  throw new Error("expected a rejection");
}

const ctl = prismctlOn(() => proxy, "sessions");

describe("session store via @prism/client", () => {
  test("create, get, update with compare-and-set, touch, list, delete", async () => {
    const owner = `ada-${run}`;
    const s = await client.session.create(owner, { attributes: { cart: "3", theme: "dark" }, ttlSeconds: 600 });
    expect(s.sessionId).toMatch(/^[0-9a-f]{32}$/);
    expect([s.owner, s.version, s.ttlSeconds]).toEqual([owner, 1n, 600]);
    const got = await client.session.get(s.sessionId);
    expect(decoder.decode(got!.attributes.cart)).toBe("3");

    const u = await client.session.update(s.sessionId, { set: { cart: "4" }, remove: ["theme"], expectedVersion: 1 });
    expect(u.version).toBe(2n);
    expect(Object.keys(u.attributes)).toEqual(["cart"]);
    const conflict = await rejection(client.session.update(s.sessionId, { set: { cart: "5" }, expectedVersion: 1 }));
    expect([conflict.codeName, conflict.reason, conflict.currentVersion]).toEqual(["ABORTED", "version_conflict", "2"]);

    const before = (await client.session.get(s.sessionId))!.expiresAt;
    const t = await client.session.touch(s.sessionId, { ttlSeconds: 3600 });
    expect(t.version).toBe(2n);
    expect(t.expiresAt).toBeGreaterThan(before);

    const others = [await client.session.create(owner), await client.session.create(owner)];
    const ids = [];
    for await (const x of client.session.list(owner, { pageSize: 1 })) ids.push(x.sessionId);
    expect(ids.sort()).toEqual([s.sessionId, ...others.map((o) => o.sessionId)].sort());

    expect(await client.session.delete(s.sessionId)).toBe(true);
    expect(await client.session.delete(s.sessionId)).toBe(false);
    expect(await client.session.get(s.sessionId)).toBeUndefined();
    const missing = await rejection(client.session.update(s.sessionId, { set: { a: "1" } }));
    expect([missing.codeName, missing.reason]).toEqual(["NOT_FOUND", "not_found"]);
    const gone = await rejection(client.session.touch(s.sessionId));
    expect(gone.reason).toBe("not_found");
  });

  test("capabilities name the shards", () => {
    expect(client.capabilities.session?.sharding?.shards.map((x) => x.name).sort()).toEqual(["m1", "m2"]);
    expect(client.session.backend).toBe("memstore");
  });
});

describe("prismctl session", () => {
  test("create with attributes and a duration ttl, get, update, a stale --expect-version, touch, delete", async () => {
    const owner = `ctl-${run}`;
    const created = await ctl("--json", "session", "create", "--owner", owner, "--attr", "cart=3", "--attr", "lang=en", "--ttl", "30m");
    expect(created.code).toBe(0);
    const s = JSON.parse(created.stdout);
    expect([s.owner, s.version, s.ttl_seconds, s.attributes]).toEqual([owner, 1, 1800, { cart: "3", lang: "en" }]);
    const id: string = s.session_id;

    const text = await ctl("session", "get", id);
    expect(text.code).toBe(0);
    expect(text.stdout).toContain(`session ${id}  owner ${owner}  version 1`);
    expect(text.stdout).toContain("\n  cart=3\n  lang=en\n");

    const up = JSON.parse(
      (await ctl("--json", "session", "update", id, "--set", "cart=4", "--set", "seen=1", "--remove", "lang", "--expect-version", "1")).stdout,
    );
    expect([up.version, up.attributes]).toEqual([2, { cart: "4", seen: "1" }]);
    const stale = await ctl("session", "update", id, "--set", "cart=9", "--expect-version", "1");
    expect(stale.code).toBe(1);
    expect(stale.stderr).toBe(`prismctl: version conflict: session ${id} is at version 2, not 1\n`);
    const staleJson = await ctl("--json", "session", "update", id, "--set", "cart=9", "--expect-version", "1");
    expect([staleJson.code, JSON.parse(staleJson.stdout)]).toEqual([1, { session_id: id, conflict: true, expected_version: 1, current_version: 2 }]);

    const touched = JSON.parse((await ctl("--json", "session", "touch", id, "--ttl", "1h")).stdout);
    expect(touched.version).toBe(2);
    expect(touched.expires_at - Date.now()).toBeGreaterThan(1800_000);

    expect((await ctl("session", "delete", id)).stdout).toBe("deleted\n");
    const missing = await ctl("--json", "session", "get", id);
    expect([missing.code, JSON.parse(missing.stdout)]).toEqual([1, { session_id: id, found: false }]);
    expect((await ctl("session", "touch", id)).code).toBe(1);
    expect((await ctl("session", "update", id, "--set", "a=1")).stderr).toBe(`(not found) ${id}\n`);
    expect((await ctl("session", "delete", id)).code).toBe(1);
  }, 60_000);

  test("list one page with --limit, the next with --cursor, or --all", async () => {
    const owner = `pages-${run}`;
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push(JSON.parse((await ctl("--json", "session", "create", "--owner", owner)).stdout).session_id);
    const first = JSON.parse((await ctl("--json", "session", "list", owner, "--limit", "2")).stdout);
    expect(first.sessions.length).toBe(2);
    expect(first.next_cursor).not.toBe("");
    const second = JSON.parse((await ctl("--json", "session", "list", owner, "--limit", "2", "--cursor", first.next_cursor)).stdout);
    const paged = [...first.sessions, ...second.sessions].map((x: { session_id: string }) => x.session_id);
    expect(paged.sort()).toEqual([...ids].sort());
    const all = JSON.parse((await ctl("--json", "session", "list", owner, "--all", "--limit", "1")).stdout);
    expect(all.sessions.map((x: { session_id: string }) => x.session_id).sort()).toEqual([...ids].sort());
    expect(all.next_cursor).toBe("");
    const table = await ctl("session", "list", owner, "--limit", "2");
    expect(table.stdout).toMatch(/^SESSION +VERSION +EXPIRES +ATTRIBUTES\n/);
    expect(table.stdout).toContain(`next cursor: ${first.next_cursor}`);
    expect((await ctl("session", "list", owner, "--all", "--cursor", "x")).code).toBe(2);
    expect((await ctl("session", "create")).code).toBe(2);
  }, 60_000);

  test("caps session: shards, compare-and-set, sliding expiry, limits", async () => {
    const r = await ctl("caps", "session");
    expect(r.code).toBe(0);
    expect(r.stdout).toStartWith("namespace sessions: session store, 2 shards (consistent-hash)\nOPERATION");
    expect(r.stdout).toMatch(/\ncompare-and-set \(update --expect-version\) +native\n/);
    expect(r.stdout).toContain("shard m1: memstore, expiry native");
    const j = JSON.parse((await ctl("caps", "--json")).stdout);
    expect(Object.keys(j)).toEqual(["session"]);
  }, 30_000);
});
