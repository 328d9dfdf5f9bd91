/**
 * SIGTERM tells clients to reconnect: open streams (Subscribe, a following Read) end with UNAVAILABLE, not
 * OK, CANCELLED or UNKNOWN — on a pattern run directly and on the proxy in front of launched patterns.
 */
import { describe, expect, test } from "bun:test";
import { PrismError } from "../../sdk/grpc/errors";
import { Code, codeName } from "../../sdk/grpc/errors";
import { startPattern } from "../helpers/process";
import { clientsFor, startProxy } from "../proxy/harness";
import { recordRow } from "./report";

function record(backend: string, fault: string, results: { code: number }[], exitMs: number): void {
  const failures: Record<string, number> = {};
  for (const r of results) failures[codeName(r.code)] = (failures[codeName(r.code)] ?? 0) + 1;
  recordRow({ backend, fault, calls: results.length, failures, maxCallMs: exitMs, acknowledgedWrites: 0, lost: 0 });
}

type Clients = ReturnType<typeof clientsFor>;

/** Opens a Subscribe and a following Read; resolves each with the code the stream ended with. */
async function openStreams(c: Clients): Promise<Promise<{ code: number; message: string }>[]> {
  const ended = (it: AsyncIterable<unknown>, ready: () => void) =>
    (async () => {
      try {
        for await (const _ of it) ready();
        return { code: Code.OK, message: "end of stream" };
      } catch (err) {
        const e = PrismError.from(err);
        return { code: e.code as number, message: e.message };
      }
    })();
  let subscribed!: () => void;
  let reading!: () => void;
  const both = [new Promise<void>((r) => (subscribed = r)), new Promise<void>((r) => (reading = r))];
  const streams = [
    ended(c.pubsub.subscribe({ topic: "t", subscriberId: "s" }, c.opts({ timeoutMs: 60_000 })), subscribed),
    ended(c.stream.read({ stream: "log", partition: 0, fromOffset: 0n, follow: true }, c.opts({ timeoutMs: 60_000 })), reading),
  ];
  // Both streams are live once they deliver: publish until the subscription sees one; one record is in the log.
  await c.stream.append({ stream: "log", payload: new Uint8Array([1]) }, c.opts());
  for (let i = 0; i < 100; i++) {
    await c.pubsub.publish({ topic: "t", payload: new Uint8Array([1]) }, c.opts());
    const done = await Promise.race([Promise.all(both).then(() => true), Bun.sleep(50).then(() => false)]);
    if (done) break;
  }
  await Promise.all(both);
  return streams;
}

describe("SIGTERM ends open streams with UNAVAILABLE", () => {
  test("a pattern run directly", async () => {
    const p = await startPattern("memstore");
    const c = clientsFor(p.address);
    try {
      const streams = await openStreams(c);
      const t0 = performance.now();
      const exit = p.stop(10_000);
      const results = await Promise.all(streams);
      expect(await exit).toBe(0);
      record("memstore", "pattern SIGTERM with open Subscribe + following Read (longest = SIGTERM → exit)", results, performance.now() - t0);
      for (const r of results) {
        expect(r.code).toBe(Code.UNAVAILABLE);
        expect(r.message).toContain("shutting down");
      }
    } finally {
      c.close();
      await p.stop();
    }
  }, 60_000);

  test("the proxy, with launched patterns", async () => {
    const proxy = await startProxy(JSON.stringify({ namespaces: [{ name: "default", pattern: "memstore" }] }));
    const c = clientsFor(proxy.address, "default");
    try {
      const streams = await openStreams(c);
      const t0 = performance.now();
      const exit = proxy.stop(20_000);
      const results = await Promise.all(streams);
      expect(await exit).toBe(0);
      record("proxy", "proxy SIGTERM with open Subscribe + following Read (longest = SIGTERM → exit)", results, performance.now() - t0);
      for (const r of results) expect(r.code).toBe(Code.UNAVAILABLE);
    } finally {
      c.close();
      await proxy.stop();
      proxy.cleanup();
    }
  }, 60_000);
});
