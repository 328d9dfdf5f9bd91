/**
 * The examples of examples/, each started as its README says (one `bun` command) against dist/proxy running
 * config/proxy.yaml (the namespaces of `make run`), and driven end to end over HTTP.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { type RunningProxy, makeRunNamespaces, startProxyWith } from "../client/proxy";
import { ROOT, type StartedProcess, startProcess } from "../helpers/process";
import { waitFor } from "../helpers/wait";

let proxy: RunningProxy;
beforeAll(async () => {
  proxy = await startProxyWith({ namespaces: makeRunNamespaces() });
}, 90_000);
afterAll(async () => {
  await proxy?.close();
});

/** Starts an example on a free port against the proxy; resolves with its base URL. */
async function example(name: string): Promise<{ url: string; p: StartedProcess }> {
  const p = startProcess([process.execPath, join(ROOT, "examples", name, "main.ts"), "--port", "0"], {
    env: { ...process.env, PRISM_ADDR: proxy.address } as Record<string, string>,
  });
  const m = await p.waitFor(/listening on (http:\/\/\S+)/, 30_000);
  return { url: m[1]!, p };
}

describe("examples/cache-aside", () => {
  let app: { url: string; p: StartedProcess };
  beforeAll(async () => {
    app = await example("cache-aside");
  }, 60_000);
  afterAll(async () => {
    expect(await app?.p.stop(10_000)).toBe(0);
  });

  test("a miss reads the origin and fills the cache; a hit does not; a write evicts", async () => {
    const id = String(Math.floor(Math.random() * 1e9));
    const get = async () => {
      const r = await fetch(`${app.url}/users/7`);
      return { status: r.status, cache: r.headers.get("x-cache"), reads: Number(r.headers.get("x-origin-reads")), body: await r.json() };
    };
    // Another user first (a miss that finds nothing is not cached).
    expect((await fetch(`${app.url}/users/${id}`)).status).toBe(404);
    await fetch(`${app.url}/users/7`, { method: "PUT", body: JSON.stringify({ name: "Ada" }) });
    const miss = await get();
    expect(miss).toMatchObject({ status: 200, cache: "miss", body: { id: "7", name: "Ada" } });
    const hit = await get();
    expect(hit).toMatchObject({ status: 200, cache: "hit", reads: miss.reads, body: { id: "7", name: "Ada" } });
    expect((await fetch(`${app.url}/users/7`, { method: "PUT", body: JSON.stringify({ name: "Grace" }) })).status).toBe(204);
    const after = await get();
    expect(after).toMatchObject({ cache: "miss", reads: miss.reads + 1, body: { name: "Grace" } });
  });
});

describe("examples/presence", () => {
  let app: { url: string; p: StartedProcess };
  beforeAll(async () => {
    app = await example("presence");
  }, 60_000);
  afterAll(async () => {
    expect(await app?.p.stop(10_000)).toBe(0);
  });

  test("join, list a room, receive a room message in an inbox stream, leave", async () => {
    const room = `room-${crypto.randomUUID().slice(0, 8)}`;
    const post = (path: string, body?: string) => fetch(`${app.url}${path}`, { method: "POST", body });
    expect((await post(`/presence/alice?room=${room}`)).status).toBe(201);
    expect((await post(`/presence/alice?room=${room}`)).status).toBe(200);
    expect((await post(`/presence/bob?room=${room}`)).status).toBe(201);
    const who = async () => (await (await fetch(`${app.url}/rooms/${room}`)).json()) as { users: { user: string; listening: boolean }[] };
    expect((await who()).users.map((u) => u.user)).toEqual(["alice", "bob"]);

    const ac = new AbortController();
    const inbox = await fetch(`${app.url}/inbox/alice`, { signal: ac.signal });
    const reader = inbox.body!.getReader();
    try {
      await waitFor(async () => (await who()).users.find((u) => u.user === "alice")?.listening === true, "alice's inbox subscribed", { timeoutMs: 15_000 });
      const sent = await (await post(`/rooms/${room}/messages`, "hello room")).json();
      // bob has no inbox open and the namespace has no durability slot: his delivery fails, alice's arrives.
      expect(sent).toMatchObject({ targets: 2, delivered: 1, failed: 1 });
      let text = "";
      await waitFor(
        async () => {
          const { value } = await reader.read();
          text += new TextDecoder().decode(value);
          return text.includes("data: hello room");
        },
        "the message in alice's inbox",
        { timeoutMs: 15_000, intervalMs: 0 },
      );
    } finally {
      ac.abort();
    }
    expect((await fetch(`${app.url}/presence/bob`, { method: "DELETE" })).status).toBe(200);
    expect((await who()).users.map((u) => u.user)).toEqual(["alice"]);
  }, 30_000);
});

describe("examples/worker-pool", () => {
  let app: { url: string; p: StartedProcess };
  beforeAll(async () => {
    app = await example("worker-pool");
  }, 60_000);
  afterAll(async () => {
    expect(await app?.p.stop(10_000)).toBe(0);
  });

  const post = async (path: string, body?: unknown) =>
    (await fetch(`${app?.url}${path}`, { method: "POST", body: body === undefined ? undefined : JSON.stringify(body) })).json() as Promise<
      Record<string, unknown>
    >;
  const job = async (id: string) => (await (await fetch(`${app.url}/jobs/${id}`)).json()) as { status: string; result?: string; runs: number };
  const deadLetters = async () => (await (await fetch(`${app.url}/dead-letters`)).json()) as { id: string; attempts: number; error: string }[];

  test("jobs are done by the workers; a failing one is retried; one failing max_deliveries times is a dead letter until redriven", async () => {
    const tag = crypto.randomUUID().slice(0, 8);
    const { id: easy } = (await post("/jobs", { text: `easy ${tag}` })) as { id: string };
    const { id: flaky } = (await post("/jobs", { text: `flaky ${tag}`, failures: 2 })) as { id: string };
    const { id: poison } = (await post("/jobs", { text: `poison ${tag}`, failures: 4 })) as { id: string };
    expect(await waitFor(async () => (await job(easy)).status === "done" && job(easy), "the easy job done")).toMatchObject({
      result: `EASY ${tag.toUpperCase()}`,
      runs: 1,
    });
    // Two failed runs, then done on the third delivery (max_deliveries is 3 in config/proxy.yaml).
    expect(await waitFor(async () => (await job(flaky)).status === "done" && job(flaky), "the flaky job done")).toMatchObject({
      result: `FLAKY ${tag.toUpperCase()}`,
      runs: 3,
    });
    const dead = await waitFor(async () => (await deadLetters()).find((d) => d.id === poison), "the poison job dead-lettered");
    expect(dead).toMatchObject({ attempts: 3, error: `run 3 of ${poison} failed on purpose` });
    expect((await job(poison)).status).toBe("retrying");
    // Redriven, it fails a fourth time and then succeeds.
    expect((await post("/dead-letters/redrive")).redriven).toBe(1);
    expect(await waitFor(async () => (await job(poison)).status === "done" && job(poison), "the redriven job done")).toMatchObject({
      result: `POISON ${tag.toUpperCase()}`,
      runs: 5,
    });
    expect(await deadLetters()).toEqual([]);
    const stats = (await (await fetch(`${app.url}/stats`)).json()) as Record<string, number>;
    expect([stats.pending, stats.inFlight, stats.deadLettered]).toEqual([0, 0, 0]);
  }, 30_000);
});
