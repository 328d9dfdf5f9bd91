import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { KeyValueBasicInterface } from "../../proto/gen/prism/interfaces/keyvalue/keyvalue_basic_pb";
import { KeyValuePattern } from "../../proto/gen/prism/patterns/keyvalue/keyvalue_pattern_pb";
import { createClient } from "../../sdk/grpc/client";
import { PrismError } from "../../sdk/errors";
import { startPattern, type StartedPattern } from "../helpers/process";
import { startProxy, type StartedProxy } from "../proxy/harness";

// 64 Scan pages of 100 keys with 100-byte values (about 12 KB each) in flight on one connection add up to
// 768 KB, far past HTTP/2's default 64 KiB window (through the proxy, whose relay adds a hop, 128 do). Bun's
// server starved some of them (headers, then nothing until the deadline) when the client announced that
// default; the SDK's client announces CLIENT_WINDOW.
const RUN_MS = 2_000;
const DEADLINE_MS = 1_500;

async function scansInFlight(inFlight: number, address: string, metadata?: Record<string, string>): Promise<{ ok: number; failed: Record<string, number> }> {
  const kv = createClient(KeyValueBasicInterface, address);
  const kvp = createClient(KeyValuePattern, kv.raw);
  try {
    const value = new Uint8Array(100).fill(97);
    for (let i = 0; i < 1000; i += 100) await Promise.all(Array.from({ length: 100 }, (_, j) => kv.client.set({ key: `page:${i + j}`, value }, { metadata })));
    let ok = 0;
    const failed: Record<string, number> = {};
    const end = performance.now() + RUN_MS;
    const worker = async () => {
      while (performance.now() < end) {
        try {
          let keys = 0;
          for await (const page of kvp.client.scan({ prefix: "page:", limit: 100, pageSize: 100, includeValues: true }, { timeoutMs: DEADLINE_MS, metadata }))
            keys += page.keys.length;
          expect(keys).toBe(100);
          ok++;
        } catch (err) {
          const code = String(PrismError.from(err).code);
          failed[code] = (failed[code] ?? 0) + 1;
        }
      }
    };
    await Promise.all(Array.from({ length: inFlight }, worker));
    return { ok, failed };
  } finally {
    kv.close();
  }
}

describe("many large responses in flight on one connection", () => {
  let pattern: StartedPattern;
  let proxy: StartedProxy;
  beforeAll(async () => {
    pattern = await startPattern("memstore");
    proxy = await startProxy("namespaces:\n  - { name: default, pattern: memstore }\n");
  });
  afterAll(async () => {
    expect(await pattern?.stop()).toBe(0);
    await proxy?.stop();
    proxy?.cleanup();
  });

  test("straight to the pattern: every Scan completes, none starved until its deadline", async () => {
    const r = await scansInFlight(64, pattern.address);
    expect(r.failed).toEqual({});
    expect(r.ok).toBeGreaterThan(64);
  });

  test("through the proxy: every Scan completes, none starved until its deadline", async () => {
    const r = await scansInFlight(128, proxy.address, { "x-prism-namespace": "default" });
    expect(r.failed).toEqual({});
    expect(r.ok).toBeGreaterThan(128);
  });
});
