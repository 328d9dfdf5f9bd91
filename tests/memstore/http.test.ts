import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { KeyValueBasicInterface } from "../../proto/gen/prism/interfaces/keyvalue/keyvalue_basic_pb";
import { createClient } from "../../sdk/grpc/client";
import { startPattern, type StartedPattern } from "../helpers/process";
import { codeOf, utf8 } from "../acceptance/target";
import { freePort } from "./helpers";

/** The value of the first sample line whose name and labels contain every given fragment. */
function sample(metrics: string, name: string, ...labels: string[]): number | undefined {
  const line = metrics.split("\n").find((l) => l.startsWith(name + "{") && labels.every((f) => l.includes(f)));
  return line === undefined ? undefined : Number(line.slice(line.lastIndexOf(" ") + 1));
}

describe("memstore HTTP endpoints", () => {
  let p: StartedPattern;
  let base: string;
  beforeAll(async () => {
    const port = await freePort();
    p = await startPattern("memstore", ["--metrics-port", String(port)]);
    base = `http://127.0.0.1:${port}`;
  });
  afterAll(async () => {
    expect(await p?.stop()).toBe(0);
  });

  test("/health and /ready answer 200 while serving", async () => {
    const health = await fetch(`${base}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: "healthy" });
    const ready = await fetch(`${base}/ready`);
    expect(ready.status).toBe(200);
  });

  test("/metrics counts RPCs (prism_requests_total) and driver operations (driver_operation_total)", async () => {
    const kv = createClient(KeyValueBasicInterface, p.address);
    try {
      for (let i = 0; i < 3; i++) await kv.client.set({ key: `m${i}`, value: utf8("v") });
      await kv.client.get({ key: "m0" });
      expect(await codeOf(() => kv.client.get({ key: "" }))).not.toBe(0);
    } finally {
      kv.close();
    }
    const res = await fetch(`${base}/metrics`);
    expect(res.status).toBe(200);
    const text = await res.text();
    expect(sample(text, "prism_requests_total", 'method="Set"', 'code="OK"', 'pattern="memstore"')).toBe(3);
    expect(sample(text, "prism_requests_total", 'method="Get"', 'code="OK"')).toBe(1);
    expect(sample(text, "prism_requests_total", 'method="Get"', 'code="INVALID_ARGUMENT"')).toBe(1);
    expect(sample(text, "prism_request_duration_seconds_count", 'method="Set"')).toBe(3);
    expect(sample(text, "driver_operation_total", 'driver="memstore"', 'operation="set"', 'status="success"')).toBe(3);
    expect(sample(text, "driver_operation_total", 'operation="get"', 'status="success"')).toBe(1);
    expect(text).toContain('backend_driver_info{name="memstore",version="0.1.0"} 1');
  });

  test("/metrics counts expired keys (backend_driver_expired_keys_total)", async () => {
    const kv = createClient(KeyValueBasicInterface, p.address);
    const scrape = async () => sample(await (await fetch(`${base}/metrics`)).text(), "backend_driver_expired_keys_total", 'driver="memstore"') ?? -1;
    const before = await scrape();
    expect(before).toBeGreaterThanOrEqual(0);
    try {
      for (let i = 0; i < 3; i++) await kv.client.set({ key: `exp${i}`, value: utf8("v"), ttlSeconds: 1n });
    } finally {
      kv.close();
    }
    const deadline = Date.now() + 15_000;
    while ((await scrape()) < before + 3 && Date.now() < deadline) await Bun.sleep(200);
    expect(await scrape()).toBe(before + 3);
  });
});
