/**
 * The NATS pattern's key-value mode against the shared nats-server: namespaces sharing one bucket never see each
 * other's keys, odd keys survive the encoding on a real server, key listing by prefix, the bucket's settings, and
 * what it refuses (per-key TTL; key-value without kv.bucket).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { connect, type NatsConnection } from "nats";
import { parseNatsConfig } from "../../nats/config";
import { NatsDriver } from "../../nats/driver";
import { Subjects } from "../../nats/subjects";
import { KeyValueBasicInterface } from "../../proto/gen/prism/interfaces/keyvalue/keyvalue_basic_pb";
import { KeyValueBatchInterface } from "../../proto/gen/prism/interfaces/keyvalue/keyvalue_batch_pb";
import { KeyValueScanInterface } from "../../proto/gen/prism/interfaces/keyvalue/keyvalue_scan_pb";
import { KeyValueTTLInterface } from "../../proto/gen/prism/interfaces/keyvalue/keyvalue_ttl_pb";
import { KeyValuePattern } from "../../proto/gen/prism/patterns/keyvalue/keyvalue_pattern_pb";
import { Code, PrismError } from "../../sdk/grpc/errors";
import { createLogger } from "../../sdk/observability/logger";
import { natsUrl, requireService } from "../helpers/services";
import { connect as connectTarget } from "../acceptance/target";
import { deleteBucket, uniqueBucket } from "./kv_target";
import { natsSharedTarget } from "./target";

const logger = createLogger({ level: "error" });
const bucket = uniqueBucket("kv_test");
const drivers: NatsDriver[] = [];
const utf8 = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array | undefined) => (b === undefined ? undefined : new TextDecoder().decode(b));
const codeOf = (p: Promise<unknown>) =>
  p.then(
    () => Code.OK,
    (e) => PrismError.from(e).code,
  );
const signal = () => new AbortController().signal;

async function driver(namespace: string, kv: Record<string, unknown> | null = { bucket }): Promise<NatsDriver> {
  const env = { configFile: "test", namespace };
  const cfg = parseNatsConfig({ url: natsUrl(), ...(kv ? { kv } : {}) }, env);
  const d = new NatsDriver(cfg, Subjects.fromEnv(env), logger);
  drivers.push(d);
  await (d.kv ? d.kv.ready() : d.ready);
  return d;
}

let nc: NatsConnection;
beforeAll(async () => {
  await requireService("nats");
  nc = await connect({ servers: natsUrl() });
});
afterAll(async () => {
  for (const d of drivers) await d.close();
  await nc?.close();
  await deleteBucket(bucket);
});

describe("nats kv mode", () => {
  test("the bucket is created when missing, with history 1", async () => {
    await driver("ns-a");
    const info = await (await nc.jetstreamManager()).streams.info(`KV_${bucket}`);
    expect(info.config.max_msgs_per_subject).toBe(1);
  });

  test("two namespaces in one bucket: same key, separate values, separate listings", async () => {
    const a = await driver("ns-a");
    const b = await driver("ns-b");
    await a.set("shared", utf8("a"), 0);
    expect(await b.get("shared")).toBeUndefined();
    expect(await b.exists("shared")).toBe(false);
    expect(await b.delete("shared")).toBe(false);
    await b.set("shared", utf8("b"), 0);
    expect(text(await a.get("shared"))).toBe("a");
    expect(await Array.fromAsync(b.listKeys("", signal()))).toEqual(["shared"]);
    expect(await a.delete("shared")).toBe(true);
    expect(text(await b.get("shared"))).toBe("b");
    expect(await Array.fromAsync(a.listKeys("", signal()))).toEqual([]);
  });

  test("odd keys round-trip on the server and list by prefix", async () => {
    const d = await driver("ns-odd");
    const keys = ["a.b", "..", "*", ">", "with space", "ü/😀", "\0nul", "=41", "p:1", "p:2", "p.3"];
    for (const [i, k] of keys.entries()) await d.set(k, utf8(String(i)), 0);
    for (const [i, k] of keys.entries()) expect(text(await d.get(k))).toBe(String(i));
    expect((await Array.fromAsync(d.listKeys("", signal()))).sort()).toEqual([...keys].sort());
    expect((await Array.fromAsync(d.listKeys("p:", signal()))).sort()).toEqual(["p:1", "p:2"]);
    expect((await Array.fromAsync(d.listKeys("p", signal()))).sort()).toEqual(["p.3", "p:1", "p:2"]);
    expect(await d.delete("a.b")).toBe(true);
    expect(await Array.fromAsync(d.listKeys("a", signal()))).toEqual([]);
  });

  test("a key too long once encoded is INVALID_ARGUMENT; a per-key TTL reaching the driver is UNIMPLEMENTED", async () => {
    const d = await driver("ns-limits");
    expect(await codeOf(d.set("é".repeat(600), utf8("v"), 0))).toBe(Code.INVALID_ARGUMENT);
    const err = await d.set("k", utf8("v"), 10).catch((e) => PrismError.from(e));
    expect((err as PrismError).code).toBe(Code.UNIMPLEMENTED);
    expect((err as PrismError).message).toContain("expiration not supported by nats kv");
    expect(await d.exists("k")).toBe(false);
  });

  test("without kv.bucket the key-value calls are UNIMPLEMENTED, naming the setting", async () => {
    const d = await driver("ns-none", null);
    const err = await d.get("k").catch((e) => PrismError.from(e));
    expect((err as PrismError).code).toBe(Code.UNIMPLEMENTED);
    expect((err as PrismError).message).toContain("kv.bucket");
  });

  test("kv without a bucket name is a config error", () => {
    expect(() => parseNatsConfig({ kv: { storage: "memory" } }, { configFile: "f.yaml" })).toThrow(/kv.bucket/);
    expect(() => parseNatsConfig({ kv: { bucket: "bad.name" } }, { configFile: "f.yaml" })).toThrow(/kv.bucket/);
    expect(() => parseNatsConfig({ kv: { bucket: "ok", history: 5 } }, { configFile: "f.yaml" })).toThrow(/history/);
  });
});

describe("dist/nats without kv.bucket (pub/sub and streams only)", () => {
  test("GetCapabilities and every key-value call, old services and KeyValuePattern, are UNIMPLEMENTED naming kv.bucket", async () => {
    const t = await natsSharedTarget();
    const c = connectTarget(t, {
      pattern: KeyValuePattern,
      basic: KeyValueBasicInterface,
      ttl: KeyValueTTLInterface,
      scan: KeyValueScanInterface,
      batch: KeyValueBatchInterface,
    });
    try {
      const k = utf8("v");
      const calls: [string, () => Promise<unknown> | AsyncIterable<unknown>][] = [
        ["pattern.getCapabilities", () => c.pattern.getCapabilities({})],
        ["pattern.store", () => c.pattern.store({ key: "k", value: k })],
        ["pattern.store with expiry", () => c.pattern.store({ key: "k", value: k, expirationSeconds: 10n })],
        ["pattern.retrieve", () => c.pattern.retrieve({ key: "k" })],
        ["pattern.delete", () => c.pattern.delete({ key: "k" })],
        ["pattern.exists", () => c.pattern.exists({ key: "k" })],
        ["pattern.scan", () => c.pattern.scan({ prefix: "" })],
        ["pattern.storeBatch", () => c.pattern.storeBatch({ requests: [{ key: "k", value: k }] })],
        ["pattern.retrieveBatch", () => c.pattern.retrieveBatch({ keys: ["k"] })],
        ["pattern.deleteBatch", () => c.pattern.deleteBatch({ keys: ["k"] })],
        ["pattern.setExpiration", () => c.pattern.setExpiration({ key: "k", expirationSeconds: 10n })],
        ["pattern.getExpiration", () => c.pattern.getExpiration({ key: "k" })],
        ["basic.set", () => c.basic.set({ key: "k", value: k })],
        ["basic.get", () => c.basic.get({ key: "k" })],
        ["basic.delete", () => c.basic.delete({ key: "k" })],
        ["basic.exists", () => c.basic.exists({ key: "k" })],
        ["ttl.expire", () => c.ttl.expire({ key: "k", ttlSeconds: 10n })],
        ["ttl.getTTL", () => c.ttl.getTTL({ key: "k" })],
        ["ttl.persist", () => c.ttl.persist({ key: "k" })],
        ["scan.scan", () => c.scan.scan({ prefix: "" })],
        ["scan.scanKeys", () => c.scan.scanKeys({ prefix: "" })],
        ["scan.count", () => c.scan.count({ prefix: "" })],
        ["batch.batchSet", () => c.batch.batchSet({ requests: [{ key: "k", value: k }] })],
        ["batch.batchGet", () => c.batch.batchGet({ keys: ["k"] })],
        ["batch.batchDelete", () => c.batch.batchDelete({ keys: ["k"] })],
      ];
      for (const [name, call] of calls) {
        let outcome = "OK";
        try {
          const r = call();
          if (r && typeof (r as AsyncIterable<unknown>)[Symbol.asyncIterator] === "function") await Array.fromAsync(r as AsyncIterable<unknown>);
          else await r;
        } catch (err) {
          const e = PrismError.from(err);
          outcome = `${e.code === Code.UNIMPLEMENTED ? "UNIMPLEMENTED" : `code ${e.code}`}: ${e.message}`;
        }
        expect(`${name} -> ${outcome}`).toBe(
          `${name} -> UNIMPLEMENTED: key-value not supported by nats: configure kv.bucket (without it this pattern serves pub/sub and streams only)`,
        );
      }
    } finally {
      c.close();
      await t.close();
    }
  }, 60_000);
});

describe("nats kv mode across a server crash", () => {
  test("calls are UNAVAILABLE (or outcome-unknown for a write) while the server is down; served again after, data kept", async () => {
    const { startNatsServer } = await import("./server");
    const server = await startNatsServer();
    const env = { configFile: "test", namespace: "outage" };
    const cfg = parseNatsConfig(
      { url: server.url, ping_interval: "500ms", reconnect_wait: "50ms", reconnect_max_wait: "300ms", request_timeout: "1s", kv: { bucket: "outage" } },
      env,
    );
    const d = new NatsDriver(cfg, Subjects.fromEnv(env), logger);
    try {
      await d.kv!.ready();
      await d.set("k", utf8("before"), 0);
      await server.stop();
      const started = performance.now();
      expect(await codeOf(d.get("k"))).toBe(Code.UNAVAILABLE);
      expect([Code.UNAVAILABLE, Code.UNKNOWN, Code.DEADLINE_EXCEEDED] as number[]).toContain(await codeOf(d.set("k2", utf8("v"), 0)));
      expect(performance.now() - started).toBeLessThan(10_000);
      await server.start();
      let value: string | undefined;
      const deadline = Date.now() + 20_000;
      while (value === undefined && Date.now() < deadline) {
        value = await d.get("k").then(text, () => undefined);
        if (value === undefined) await Bun.sleep(200);
      }
      expect(value).toBe("before");
      await d.set("k", utf8("after"), 0);
      expect(text(await d.get("k"))).toBe("after");
    } finally {
      await d.close();
      await server.close();
    }
  }, 60_000);
});
