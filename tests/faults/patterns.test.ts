/**
 * Hostile input through the proxy (malformed bytes, invalid UTF-8, no message, a lying length prefix, a forged cursor,
 * an over-long stream name): every one INVALID_ARGUMENT, and the proxy and its patterns keep serving.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Code, codeName, PrismError } from "../../sdk/grpc/errors";
import { frame, rawCall } from "../helpers/raw_grpc";
import { startNatsServer, type DedicatedNats } from "../nats/server";
import { clientsFor, startProxy, type StartedProxy } from "../proxy/harness";
import { startOwnRedis, type OwnRedis } from "../redis/harness";
import { recordRow } from "./report";

const text = (s: string) => new TextEncoder().encode(s);

describe("hostile input, through the proxy", () => {
  let own: OwnRedis;
  let nats: DedicatedNats;
  let proxy: StartedProxy;

  beforeAll(async () => {
    [own, nats] = await Promise.all([startOwnRedis(), startNatsServer()]);
    proxy = await startProxy(
      JSON.stringify({
        namespaces: [
          { name: "red", pattern: "redis", config: { address: own.address }, settings: { health_interval: "1s", restart_initial_delay: "50ms" } },
          { name: "jet", pattern: "nats", config: { url: nats.url } },
          { name: "mem", pattern: "memstore" },
        ],
      }),
    );
  }, 60_000);

  afterAll(async () => {
    await proxy?.stop(20_000);
    proxy?.cleanup();
    await own?.destroy();
    await nats?.close();
  });

  test("hostile input is INVALID_ARGUMENT, and everything keeps serving", async () => {
    const GET = "/prism.interfaces.keyvalue.KeyValueBasicInterface/Get";
    const ns = (n: string) => ({ "x-prism-namespace": n });
    const cases: { what: string; run: () => Promise<{ code: number; message: string }> }[] = [];
    for (const n of ["mem", "red"]) {
      cases.push(
        { what: `${n}: malformed message bytes`, run: () => rawCall(proxy.address, GET, frame(Buffer.from([0x0a, 20, 0x41])), ns(n)) },
        { what: `${n}: invalid UTF-8 in a string field`, run: () => rawCall(proxy.address, GET, frame(Buffer.from([0x0a, 2, 0xff, 0xfe])), ns(n)) },
        { what: `${n}: no request message`, run: () => rawCall(proxy.address, GET, Buffer.alloc(0), ns(n)) },
        { what: `${n}: a length prefix that lies`, run: () => rawCall(proxy.address, GET, frame(Buffer.from([0x0a, 1, 0x6b]), 4096), ns(n)) },
      );
    }
    const red = clientsFor(proxy.address, "red");
    const jet = clientsFor(proxy.address, "jet");
    const asStatus = (p: Promise<unknown>) =>
      p.then(
        () => ({ code: 0, message: "OK" }),
        (e) => {
          const x = PrismError.from(e);
          return { code: x.code as number, message: x.message };
        },
      );
    const forged = `${Buffer.from(JSON.stringify([3, "", "0", 100000, Array.from({ length: 50_000 }, (_, i) => `k${i}`)])).toString("base64url")}.AAAAAAAAAAAAAAAAAAAAAA`;
    cases.push(
      {
        what: "red: a forged 0.5 MB scan cursor",
        run: () =>
          asStatus(
            (async () => {
              for await (const _ of red.scan.scanKeys({ prefix: "", limit: 10, cursor: forged }, red.opts())) {
              }
            })(),
          ),
      },
      { what: "jet: a stream name over 255 characters", run: () => asStatus(jet.stream.append({ stream: "s".repeat(300), payload: text("x") }, jet.opts())) },
      {
        what: "red: an idempotency key over 256 bytes",
        run: () => asStatus(red.kv.set({ key: "k", value: text("v") }, red.opts({ metadata: { "x-prism-idempotency-key": "i".repeat(300) } }))),
      },
    );
    const results: { what: string; code: number; ms: number }[] = [];
    for (const c of cases) {
      const t0 = performance.now();
      const r = await c.run();
      results.push({ what: c.what, code: r.code, ms: performance.now() - t0 });
    }
    const wrong = results.filter((r) => r.code !== Code.INVALID_ARGUMENT);
    // Still serving after all that.
    expect((await red.kv.set({ key: "after", value: text("ok") }, red.opts())).success).toBe(true);
    const m = clientsFor(proxy.address, "mem");
    expect((await m.kv.set({ key: "after", value: text("ok") }, m.opts())).success).toBe(true);
    red.close();
    jet.close();
    m.close();
    const byCode: Record<string, number> = {};
    for (const r of results) byCode[codeName(r.code)] = (byCode[codeName(r.code)] ?? 0) + 1;
    recordRow({
      backend: "proxy",
      fault: `hostile input (${results.length} cases: malformed, invalid UTF-8, no message, lying prefix, forged cursor, long name, long key)`,
      calls: results.length,
      failures: byCode,
      maxCallMs: Math.max(...results.map((r) => r.ms)),
      acknowledgedWrites: 0,
      lost: 0,
    });
    expect(wrong).toEqual([]);
  }, 60_000);
});
