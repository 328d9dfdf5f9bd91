import { afterAll, describe, expect, test } from "bun:test";
import { KeyValueBasicInterface } from "../../proto/gen/prism/interfaces/keyvalue/keyvalue_basic_pb";
import { PubSubBasicInterface } from "../../proto/gen/prism/interfaces/pubsub/pubsub_basic_pb";
import { StreamBasicInterface } from "../../proto/gen/prism/interfaces/stream/stream_basic_pb";
import { createClient } from "../../sdk/grpc/client";
import { Code, PrismError } from "../../sdk/grpc/errors";
import { startPattern, type StartedPattern } from "../helpers/process";
import { utf8 } from "../acceptance/target";
import { waitFor } from "../helpers/wait";

const started: StartedPattern[] = [];
afterAll(async () => {
  for (const p of started) await p.stop();
});

/** Codes a call may legitimately end with while the server shuts down under it. */
const SHUTDOWN_CODES = new Set<number>([Code.OK, Code.UNAVAILABLE, Code.CANCELLED]);

/**
 * Starts memstore, puts it under load (several clients each keeping calls in
 * flight, plus an open subscription and a following stream read), sends the
 * signal and reports how long the process took to exit and with what code.
 */
async function exitUnderLoad(signal: "SIGTERM" | "SIGINT") {
  const p = await startPattern("memstore");
  started.push(p);
  const clients = Array.from({ length: 4 }, () => createClient(KeyValueBasicInterface, p.address));
  const ps = createClient(PubSubBasicInterface, p.address);
  const st = createClient(StreamBasicInterface, p.address);
  let stop = false;
  let ok = 0;
  const codes = new Map<number, number>();
  const hammer = async (kv: (typeof clients)[number], lane: number) => {
    for (let i = 0; !stop; i++) {
      try {
        await kv.client.set({ key: `load:${lane}:${i % 100}`, value: utf8("v".repeat(100)) });
        await kv.client.get({ key: `load:${lane}:${i % 100}` });
        ok += 2;
      } catch (err) {
        const code = PrismError.from(err).code;
        codes.set(code, (codes.get(code) ?? 0) + 1);
        if (code === Code.UNAVAILABLE || code === Code.CANCELLED) return;
      }
    }
  };
  const lanes = clients.flatMap((kv, ci) => Array.from({ length: 8 }, (_, j) => hammer(kv, ci * 8 + j)));
  const streams = [
    Array.fromAsync(ps.client.subscribe({ topic: "t", subscriberId: "s" })).catch(() => []),
    Array.fromAsync(st.client.read({ stream: "s", follow: true })).catch(() => []),
  ];
  await waitFor(() => ok >= 500, "500 calls answered under load", { timeoutMs: 20_000, intervalMs: 10 });

  const sentAt = performance.now();
  process.kill(p.pid, signal);
  const code = await Promise.race([p.exited, Bun.sleep(10_000).then(() => "still running")]);
  const exitMs = performance.now() - sentAt;
  stop = true;
  await Promise.all([...lanes, ...streams]);
  for (const c of [...clients, ps, st]) c.close();
  return { code, exitMs, ok, codes, output: p.output() };
}

describe("memstore signals", () => {
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    test(`${signal} under load exits 0 within 1 s, with open streams, and no call fails oddly`, async () => {
      const r = await exitUnderLoad(signal);
      expect(r.code).toBe(0);
      expect(r.exitMs).toBeLessThan(1000);
      expect(r.ok).toBeGreaterThanOrEqual(500);
      for (const code of r.codes.keys()) expect(SHUTDOWN_CODES.has(code)).toBe(true);
      expect(r.output).toContain(`"reason":"${signal}"`);
      expect(r.output).toContain("shutdown complete");
    });
  }
});
