/**
 * @prism/client against dist/proxy with a key-value namespace and a presence namespace (Multicast Registry),
 * everything in memory: what connect() finds, each pattern object end to end, health and the admin listing.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { KeyValueBasicInterface } from "../../proto/gen/prism/interfaces/keyvalue/keyvalue_basic_pb";
import { createClient } from "../../sdk/grpc/client";
import { Code, connect, type PrismClient, where } from "../../client/src/index";
import { waitFor } from "../helpers/wait";
import { type RunningProxy, startProxy } from "./proxy";

let proxy: RunningProxy;
let kv: PrismClient;
let presence: PrismClient;
beforeAll(async () => {
  proxy = await startProxy();
  kv = await connect({ address: proxy.address, namespace: "kv", adminAddress: proxy.admin });
  presence = await connect({ address: proxy.address, namespace: "presence", adminAddress: proxy.admin });
}, 90_000);
afterAll(async () => {
  kv?.close();
  presence?.close();
  await proxy?.close();
});

const run = crypto.randomUUID().slice(0, 8);

describe("connect through the proxy", () => {
  test("each namespace exposes the capabilities of the patterns it serves, and refuses the others before calling", async () => {
    expect(Object.keys(kv.capabilities)).toEqual(["keyValue"]);
    expect(kv.capabilities.keyValue?.slots?.primaryBackendType).toBe("memstore");
    expect(Object.keys(presence.capabilities)).toEqual(["multicast"]);
    expect(presence.capabilities.multicast?.slots?.registryBackendType).toBe("memstore");
    expect(() => presence.keyValue).toThrow(/KeyValuePattern not served by namespace presence/);
  });

  test("an unknown namespace: connect rejects with NOT_FOUND naming it", async () => {
    const err = await connect({ address: proxy.address, namespace: `nope-${run}` }).catch((e) => e);
    expect([err.code, err.reason]).toEqual([Code.NOT_FOUND, "namespace_not_found"]);
    expect(err.message).toContain(`nope-${run}`);
  });

  test("key-value: set, get, versions, scan, delete", async () => {
    const p = `client-${run}:`;
    const v1 = await kv.keyValue.set(`${p}a`, "1");
    await kv.keyValue.set(`${p}b`, "2", { ttlSeconds: 60 });
    expect(await kv.keyValue.getText(`${p}a`)).toBe("1");
    const conflict = await kv.keyValue.set(`${p}a`, "x", { ifVersion: "stale" }).catch((e) => e);
    expect([conflict.code, conflict.reason, conflict.currentVersion]).toEqual([Code.ABORTED, "version_conflict", v1]);
    expect((await Array.fromAsync(kv.keyValue.entries(p))).map(([k]) => k).sort()).toEqual([`${p}a`, `${p}b`]);
    expect(await kv.keyValue.del(`${p}a`)).toBe(true);
    expect(await kv.keyValue.get(`${p}a`)).toBeUndefined();
  });

  test("pub/sub on the key-value namespace: a subscriber gets what is published after it subscribed", async () => {
    const topic = `client-topic-${run}`;
    const ac = new AbortController();
    const got: string[] = [];
    const reading = (async () => {
      for await (const m of kv.pubsub.subscribe(topic, { signal: ac.signal })) {
        got.push(new TextDecoder().decode(m.payload));
        if (got.length === 2) break;
      }
    })();
    // Publish until the subscription is live (a message published before it is not delivered).
    let n = 0;
    await waitFor(
      async () => {
        await kv.pubsub.publish(topic, `m${n++}`);
        return got.length > 0;
      },
      "the subscriber got a message",
      { timeoutMs: 10_000, intervalMs: 100 },
    );
    await kv.pubsub.publish(topic, "last");
    await reading;
    expect(got).toHaveLength(2);
    ac.abort();
  });

  test("multicast registry: register, enumerate with a filter, multicast to a subscriber", async () => {
    const me = `alice-${run}`;
    await presence.multicast.register(me, { room: `r-${run}`, status: "online" }, { ttlSeconds: 30 });
    await presence.multicast.register(`bob-${run}`, { room: `r-${run}`, status: "away" }, { ttlSeconds: 30 });
    const online = await Array.fromAsync(presence.multicast.identities(where.and(where.eq("room", `r-${run}`), where.eq("status", "online"))));
    expect(online.map((i) => i.identity)).toEqual([me]);
    const ac = new AbortController();
    const inbox = presence.multicast.subscribe(me, { signal: ac.signal })[Symbol.asyncIterator]();
    const first = inbox.next();
    await waitFor(
      async () => (await presence.multicast.enumerate({ filter: where.eq("room", `r-${run}`) })).identities.some((i) => i.identity === me && i.subscribed),
      "subscribed",
    );
    const sent = await presence.multicast.multicast({ filter: where.eq("status", "online"), payload: new TextEncoder().encode("hello") });
    expect(sent.deliveredCount).toBeGreaterThanOrEqual(1);
    expect(new TextDecoder().decode((await first).value!.payload)).toBe("hello");
    ac.abort();
    expect((await presence.multicast.unregister(`bob-${run}`)).found).toBe(true);
  });

  test("health and the admin listing", async () => {
    const h = await kv.health.report();
    expect(h).toMatchObject({ proxy: "SERVING", namespace: "kv", namespaceStatus: "SERVING", ok: true });
    expect(h.pattern.status).toBe("HEALTHY");
    const rows = await kv.admin.patterns();
    expect(rows.map((r) => [r.namespace, r.pattern]).sort()).toEqual([
      ["kv", "memstore"],
      ["presence", "multicast-registry"],
    ]);
  });
});

describe("on Node", () => {
  test("bun build --target node bundles the client without server code, and node runs it against the proxy", async () => {
    const out = mkdtempSync(join(tmpdir(), "prism-client-node-"));
    try {
      const built = await Bun.build({
        entrypoints: [join(import.meta.dir, "fixtures/node_smoke.ts")],
        target: "node",
        format: "esm",
        outdir: out,
        metafile: true,
      });
      expect(built.success).toBe(true);
      const inputs = Object.keys(built.metafile!.inputs).filter((f) => !f.includes("node_modules"));
      // Only the client, generated messages and the SDK's transport-neutral client plumbing.
      const allowed = /^(client\/src\/|proto\/gen\/|tests\/client\/fixtures\/)|^sdk\/(errors|grpc\/client|grpc\/definition)\.ts$/;
      expect(inputs.filter((f) => !allowed.test(f))).toEqual([]);
      expect(Object.keys(built.metafile!.inputs).some((f) => /ioredis|prom-client|@opentelemetry|kafkajs|postgres\//.test(f))).toBe(false);
      const key = `node-${run}`;
      const node = Bun.spawn(["node", join(out, "node_smoke.js"), proxy.address, "kv", key], { stdout: "pipe", stderr: "pipe" });
      const timer = setTimeout(() => node.kill(), 30_000);
      const [stdout, stderr, code] = await Promise.all([new Response(node.stdout).text(), new Response(node.stderr).text(), node.exited]);
      clearTimeout(timer);
      expect({ code, stderr }).toEqual({ code: 0, stderr: "" });
      expect(JSON.parse(stdout)).toEqual({ runtime: "node", version: true, value: "from node", keys: [key], backend: "memstore", batch: "ok" });
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });
});

describe("deprecated services through dist/proxy", () => {
  test("a call to KeyValueBasicInterface is counted on /metrics and its caller logged once; the client's calls are not counted", async () => {
    const old = createClient(KeyValueBasicInterface, proxy.address, undefined, { "grpc.primary_user_agent": `legacy-app-${run}` });
    try {
      const md = { metadata: { "x-prism-namespace": "kv" }, timeoutMs: 10_000 };
      await old.client.set({ key: `old-${run}`, value: new TextEncoder().encode("v") }, md);
      await old.client.get({ key: `old-${run}` }, md);
      await old.client.get({ key: `old-${run}` }, md);
    } finally {
      old.close();
    }
    // The same data through the pattern service, which is not deprecated.
    expect(await kv.keyValue.getText(`old-${run}`)).toBe("v");
    const metrics = await (await fetch(`http://${proxy.admin}/metrics`)).text();
    expect(metrics).toContain('prism_deprecated_requests_total{namespace="kv",service="prism.interfaces.keyvalue.KeyValueBasicInterface",method="Get"} 2');
    expect(metrics).not.toContain('service="prism.patterns.keyvalue.KeyValuePattern"');
    await waitFor(() => proxy.output().includes(`legacy-app-${run}`), "the deprecation log line");
    expect(
      proxy
        .output()
        .split("\n")
        .filter((l) => l.includes(`legacy-app-${run}`)),
    ).toHaveLength(1);
  });
});
