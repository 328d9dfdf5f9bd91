/**
 * Several proxies (issue 24 item 2): proxies share nothing, so three dist/proxy processes on loopback serve the
 * same namespace over one shared Redis. A grpc-js client with `round_robin` over the three addresses spreads its
 * calls; what one proxy wrote another reads; killing one proxy (SIGKILL) under load fails only the calls in
 * flight on it — never more than the calls open at that moment, each with UNAVAILABLE or UNKNOWN long before its
 * deadline — and the client's later calls all succeed on the other two.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import * as grpc from "@grpc/grpc-js";
import { randomBytes } from "node:crypto";
import { Redis } from "ioredis";
import { KeyValueBasicInterface } from "../../proto/gen/prism/interfaces/keyvalue/keyvalue_basic_pb";
import { codeName } from "../../sdk/errors";
import { createClient } from "../../sdk/grpc/client";
import { Code, PrismError } from "../../sdk/grpc/errors";
import { waitFor } from "../helpers/wait";
import { deletePrefix, sharedRedisAddress } from "../redis/harness";
import { killIfAlive, requireBuilt, startProxy, utf8, type PatternSnapshot, type StartedProxy } from "./harness";

const DEADLINE_MS = 5_000;
const WORKERS = 8;

describe("three proxies over one Redis", () => {
  const ns = `multi-${randomBytes(4).toString("hex")}`;
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

  /** calls counted by each proxy's /patterns for the namespace. */
  async function callsPerProxy(): Promise<number[]> {
    return Promise.all(proxies.map(async (p) => ((await p.pattern(ns)) as PatternSnapshot & { calls: number }).calls));
  }

  test("round_robin over three proxies: spread, shared data, one proxy killed costs only its calls in flight", async () => {
    const target = `ipv4:${proxies.map((p) => p.address).join(",")}`;
    const channel = new grpc.Client(target, grpc.credentials.createInsecure(), {
      "grpc.service_config": JSON.stringify({ loadBalancingConfig: [{ round_robin: {} }] }),
    });
    const kv = createClient(KeyValueBasicInterface, channel).client;
    const opts = { metadata: { "x-prism-namespace": ns }, timeoutMs: DEADLINE_MS };

    // Written through each proxy alone, read through the round_robin client: one shared backend.
    for (const [i, p] of proxies.entries()) {
      const one = createClient(KeyValueBasicInterface, p.address);
      await one.client.set({ key: `from-${i}`, value: utf8(`proxy ${i}`) }, opts);
      one.close();
    }
    for (let i = 0; i < 3; i++) {
      for (let round = 0; round < 3; round++) {
        const got = await kv.get({ key: `from-${i}` }, opts);
        expect(new TextDecoder().decode(got.value)).toBe(`proxy ${i}`);
      }
    }

    const outcomes: { code: number; message: string; startedAt: number; ms: number }[] = [];
    let running = true;
    let inFlight = 0;
    const workers = Array.from({ length: WORKERS }, async (_, w) => {
      for (let i = 0; running; i++) {
        const startedAt = Date.now();
        const t = performance.now();
        let code: number = Code.OK;
        let message = "";
        inFlight++;
        try {
          await kv.set({ key: `w${w}-${i}`, value: utf8("x") }, opts);
        } catch (err) {
          ({ code, message } = PrismError.from(err));
        } finally {
          inFlight--;
        }
        outcomes.push({ code, message, startedAt, ms: performance.now() - t });
      }
    });
    try {
      await waitFor(() => outcomes.length >= 600, "load is flowing", { timeoutMs: 20_000 });
      const spread = await callsPerProxy();
      console.log(`calls per proxy (round_robin): ${spread.join(" / ")}`);
      for (const n of spread) expect(n).toBeGreaterThan(100);

      const victim = proxies[1]!;
      const inFlightAtKill = inFlight;
      const killedAt = Date.now();
      process.kill(victim.pid, "SIGKILL");
      await victim.exited;
      // Until its exit, calls may still be placed on its connection: they were in flight on it too.
      const exitedAt = Date.now();
      const before = outcomes.length;
      await waitFor(() => outcomes.length >= before + 600, "load continues on the other two", { timeoutMs: 20_000 });
      running = false;
      await Promise.all(workers);

      const failed = outcomes.filter((o) => o.code !== Code.OK);
      const after = outcomes.filter((o) => o.startedAt > killedAt);
      console.log(
        `calls: ${outcomes.length}, in flight at the kill: ${inFlightAtKill}, failed: ${failed.length} ` +
          `(${failed.map((f) => codeName(f.code)).join(", ") || "none"}), started after it: ${after.length}, ` +
          `slowest ${Math.max(...outcomes.map((o) => o.ms)).toFixed(0)} ms`,
      );
      // Only calls in flight on the killed proxy: those open at the kill or sent before it had exited, no later one.
      const sentWhileDying = outcomes.filter((o) => o.startedAt > killedAt && o.startedAt <= exitedAt).length;
      console.log(`exit seen ${exitedAt - killedAt} ms after SIGKILL; calls started meanwhile: ${sentWhileDying}`);
      expect(failed.length).toBeLessThanOrEqual(inFlightAtKill + sentWhileDying);
      for (const f of failed) {
        expect([Code.UNAVAILABLE, Code.UNKNOWN] as number[]).toContain(f.code);
        expect(f.ms).toBeLessThan(DEADLINE_MS);
        expect(f.startedAt).toBeLessThanOrEqual(exitedAt);
      }
      expect(after.length).toBeGreaterThan(500);
      // The survivors carry the load.
      const survivors = await Promise.all([proxies[0]!, proxies[2]!].map(async (p) => ((await p.pattern(ns)) as PatternSnapshot & { calls: number }).calls));
      expect(survivors[0]! + survivors[1]!).toBeGreaterThan(spread[0]! + spread[2]! + 500);
    } finally {
      running = false;
      await Promise.all(workers);
      channel.close();
    }
  }, 90_000);
});
