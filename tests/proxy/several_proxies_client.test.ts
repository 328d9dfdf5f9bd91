/**
 * Several proxies (issue 24 item 2) with the project's own client: @prism/client given `addresses: [three
 * proxies]` spreads its calls round-robin; kill -9 of one proxy under load. Two clients run side by side: one
 * whose writes carry idempotency keys (retried, like reads, on another proxy), whose every call succeeds; and one
 * with `idempotencyKeys: false`, whose plain writes in flight on the killed proxy fail (never more than the calls
 * open then) while its reads are retried and succeed. Counts printed.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { type ClientEvent, connect, type PrismClient, PrismClientError } from "../../client/src/index";
import { Code } from "../../sdk/grpc/errors";
import { codeName } from "../../sdk/errors";
import { waitFor } from "../helpers/wait";
import { deletePrefix, sharedRedisAddress } from "../redis/harness";
import { killIfAlive, type PatternSnapshot, requireBuilt, type StartedProxy, startProxy } from "./harness";

const DEADLINE_MS = 5_000;
const WORKERS = 4;

interface Outcome {
  client: "keyed" | "plain";
  op: "get" | "set";
  code: number;
  startedAt: number;
  ms: number;
}

describe("@prism/client over three proxies", () => {
  const ns = `multi-client-${randomBytes(4).toString("hex")}`;
  const proxies: StartedProxy[] = [];
  const pids = new Set<number>();
  let redisAddress: string;

  beforeAll(async () => {
    requireBuilt("redis");
    redisAddress = await sharedRedisAddress();
    const yaml = `namespaces:\n  - name: ${ns}\n    pattern: redis\n    config: { address: "${redisAddress}" }\n`;
    proxies.push(...(await Promise.all([0, 1, 2].map(() => startProxy(yaml)))));
    for (const p of proxies) pids.add((await p.pattern(ns)).pid!);
  }, 60_000);
  afterAll(async () => {
    await Promise.all(proxies.map(async (p) => (await p.stop(), p.cleanup())));
    killIfAlive([...pids]);
    const r = new Redis(redisAddress, { maxRetriesPerRequest: 1 });
    await deletePrefix(r, `${ns}:`).finally(() => r.disconnect());
  });

  const callsPerProxy = (list: StartedProxy[]) => Promise.all(list.map(async (p) => ((await p.pattern(ns)) as PatternSnapshot & { calls: number }).calls));

  test("spread round-robin; kill -9 of one proxy: keyed writes and reads all succeed, plain writes fail only in flight", async () => {
    const events: Record<string, number> = {};
    const onEvent = (e: ClientEvent) => {
      events[e.kind] = (events[e.kind] ?? 0) + 1;
    };
    const common = {
      addresses: proxies.map((p) => p.address),
      namespace: ns,
      deadline: DEADLINE_MS,
      retry: { attempts: 5, initialBackoffMs: 20, maxBackoffMs: 200 },
      onEvent,
    };
    const clients: Record<Outcome["client"], PrismClient> = {
      keyed: await connect(common),
      plain: await connect({ ...common, idempotencyKeys: false }),
    };
    // What one proxy stored, the others read: written through the client, read back many times round-robin.
    await clients.keyed.keyValue.set(`${ns}-shared`, "v");
    for (let i = 0; i < 6; i++) expect(await clients.plain.keyValue.getText(`${ns}-shared`)).toBe("v");

    const outcomes: Outcome[] = [];
    const open = { plainWrites: 0 };
    let running = true;
    const worker = (client: Outcome["client"], w: number) =>
      (async () => {
        const kv = clients[client].keyValue;
        for (let i = 0; running; i++) {
          const op = i % 2 ? "get" : "set";
          const startedAt = Date.now();
          const t = performance.now();
          let code: number = Code.OK;
          if (client === "plain" && op === "set") open.plainWrites++;
          try {
            if (op === "set") await kv.set(`${client}-${w}-${i}`, "x");
            else await kv.get(`${client}-${w}-${i - 1}`);
          } catch (err) {
            code = err instanceof PrismClientError ? err.code : Code.INTERNAL;
          } finally {
            if (client === "plain" && op === "set") open.plainWrites--;
          }
          outcomes.push({ client, op, code, startedAt, ms: performance.now() - t });
        }
      })();
    const workers = [...Array.from({ length: WORKERS }, (_, w) => worker("keyed", w)), ...Array.from({ length: WORKERS }, (_, w) => worker("plain", w))];
    try {
      await waitFor(() => outcomes.length >= 600, "load is flowing", { timeoutMs: 20_000 });
      const spread = await callsPerProxy(proxies);
      console.log(`calls per proxy (@prism/client round-robin): ${spread.join(" / ")}`);
      for (const n of spread) expect(n).toBeGreaterThan(100);

      const victim = proxies[1]!;
      const plainWritesAtKill = open.plainWrites;
      const killedAt = Date.now();
      process.kill(victim.pid, "SIGKILL");
      await victim.exited;
      const exitedAt = Date.now();
      const before = outcomes.length;
      await waitFor(() => outcomes.length >= before + 600, "load continues on the other two", { timeoutMs: 20_000 });
      running = false;
      await Promise.all(workers);

      const failed = outcomes.filter((o) => o.code !== Code.OK);
      const count = (f: (o: Outcome) => boolean) => outcomes.filter(f).length;
      const sentWhileDying = count((o) => o.client === "plain" && o.op === "set" && o.startedAt > killedAt && o.startedAt <= exitedAt);
      console.log(
        `calls: ${outcomes.length} (keyed client ${count((o) => o.client === "keyed")}, plain ${count((o) => o.client === "plain")}); ` +
          `failed: ${failed.length} [${failed.map((f) => `${f.client} ${f.op} ${codeName(f.code)}`).join(", ") || "none"}]; ` +
          `plain writes open at the kill: ${plainWritesAtKill} (+${sentWhileDying} started before its exit, ${exitedAt - killedAt} ms); ` +
          `client events: ${JSON.stringify(events)}; slowest ${Math.max(...outcomes.map((o) => o.ms)).toFixed(0)} ms`,
      );
      // Reads and keyed writes are retried on another proxy: none fails.
      expect(failed.filter((o) => o.client === "keyed" || o.op === "get")).toEqual([]);
      // Plain writes: only those in flight on the killed proxy (a third of the open ones, at most all of them).
      const plainFailed = failed.filter((o) => o.client === "plain" && o.op === "set");
      expect(plainFailed.length).toBeLessThanOrEqual(plainWritesAtKill + sentWhileDying);
      for (const f of plainFailed) {
        expect([Code.UNAVAILABLE, Code.UNKNOWN] as number[]).toContain(f.code);
        expect(f.startedAt).toBeLessThanOrEqual(exitedAt);
        expect(f.ms).toBeLessThan(DEADLINE_MS);
      }
      expect(events.retry ?? 0).toBeGreaterThan(0);
      expect(events.failover ?? 0).toBeGreaterThan(0);
      // The survivors carry the load.
      const survivors = await callsPerProxy([proxies[0]!, proxies[2]!]);
      expect(survivors[0]! + survivors[1]!).toBeGreaterThan(spread[0]! + spread[2]! + 500);
    } finally {
      running = false;
      await Promise.all(workers);
      clients.keyed.close();
      clients.plain.close();
    }
  }, 90_000);
});
