import { describe, expect, test } from "bun:test";
import { Registry } from "prom-client";
import type { KeyValueBasicDriver, KeyValueBatchDriver, KeyValueScanDriver, KeyValueTTLDriver, ScanEntry } from "../drivers/interfaces";
import { Code, PrismError } from "../errors";
import { DEFAULT_LIMITS } from "../services/limits";
import { capabilitiesOf, refusalOf } from "./capabilities";
import { emulateKeyValue, type EmulateOptions } from "./keyvalue";
import { DEFAULT_EMULATION, type EmulationPolicy } from "./policy";
import { BasicOnlyDriver, DedupingDriver, ListingDriver, VersionedDriver } from "./test_support";
import type { KeyValueVersionedDriver } from "../drivers/versions";

type KV = KeyValueBasicDriver & KeyValueTTLDriver & KeyValueScanDriver & KeyValueBatchDriver;
const utf8 = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array | undefined) => (b === undefined ? undefined : new TextDecoder().decode(b));

function wrap<D extends object>(d: D, policy: Partial<EmulationPolicy> = {}, extra: Partial<EmulateOptions> = {}) {
  const registry = new Registry();
  const kv = emulateKeyValue(d, { policy: { ...DEFAULT_EMULATION, ...policy }, limits: DEFAULT_LIMITS, namespace: "ns", registry, ...extra }) as unknown as KV;
  return { kv, registry, caps: capabilitiesOf(kv)! };
}

async function codeOf(fn: () => unknown): Promise<number> {
  try {
    const r = fn();
    if (r && typeof (r as AsyncIterable<unknown>)[Symbol.asyncIterator] === "function") await Array.fromAsync(r as AsyncIterable<unknown>);
    else await r;
    return Code.OK;
  } catch (err) {
    return PrismError.from(err).code;
  }
}

/** Every page of a scan, following cursors; `between` runs after each page. */
async function allPages(kv: KV, prefix: string, limit: number, between: () => Promise<void> = async () => {}) {
  const seen: string[] = [];
  let cursor = "";
  for (let pages = 0; pages < 10_000; pages++) {
    const page: ScanEntry[] = await Array.fromAsync(kv.scan({ prefix, limit, cursor, withValues: false, signal: new AbortController().signal }));
    seen.push(...page.map((e) => e.key));
    const next = page.at(-1)?.nextCursor;
    if (!next) return seen;
    expect(page.length).toBe(limit);
    cursor = next;
    await between();
  }
  throw new Error("scan did not end");
}

describe("capabilities derived from the driver", () => {
  test("a driver with only get/set/delete/exists: batch and expiry emulated, scan unavailable (no listing)", async () => {
    const { kv, caps } = wrap(new BasicOnlyDriver());
    expect([caps.basic.support, caps.scan.support, caps.batch.support, caps.expiration.support]).toEqual(["native", "unavailable", "emulated", "emulated"]);
    expect(caps.backend).toBe("basic-only");
    let err: PrismError | undefined;
    try {
      await Array.fromAsync(kv.scan({ prefix: "", limit: 0, cursor: "", withValues: false, signal: new AbortController().signal }));
    } catch (e) {
      err = PrismError.from(e);
    }
    expect(err?.code).toBe(Code.UNIMPLEMENTED);
    expect(err?.message).toBe("scan not supported by basic-only: the backend can neither scan nor list its keys");
    expect(await codeOf(() => kv.count(""))).toBe(Code.UNIMPLEMENTED);
  });

  test("with key listing, scan is emulated too", () => {
    const { caps } = wrap(new ListingDriver());
    expect(caps.scan.support).toBe("emulated");
  });

  test("emulation off: missing features are unavailable, and a TTL on set is refused, not dropped", async () => {
    const d = new ListingDriver();
    const { kv, caps } = wrap(d, { scan: "off", batch: "off", expiration: "off" });
    expect([caps.scan.support, caps.batch.support, caps.expiration.support]).toEqual(["unavailable", "unavailable", "unavailable"]);
    expect(await codeOf(() => kv.set("k", utf8("v"), 10))).toBe(Code.UNIMPLEMENTED);
    expect(d.data.has("k")).toBe(false);
    await kv.set("k", utf8("v"), 0);
    expect(text(d.data.get("k"))).toBe("v"); // stored as is: no expiry record
    for (const f of [() => kv.expire("k", 1), () => kv.getTTL("k"), () => kv.batchGet(["k"])]) expect(await codeOf(f)).toBe(Code.UNIMPLEMENTED);
  });

  test("what the driver emulates itself is reported emulated, and native methods are its own", async () => {
    class Ttl extends BasicOnlyDriver {
      readonly emulates = ["keyvalue_ttl"] as const;
      expire = async () => true;
      getTTL = async () => 42;
      persist = async () => false;
    }
    const { kv, caps } = wrap(new Ttl());
    expect(caps.expiration.support).toBe("emulated");
    expect(caps.expiration.how).toBe("emulated by the driver");
    expect(await kv.getTTL("x")).toBe(42);
  });

  test("a driver without key-value methods is returned as it is", () => {
    const d = { name: "pubsub-only", health: () => ({ status: "healthy" }), close: async () => {} };
    expect(emulateKeyValue(d, { policy: DEFAULT_EMULATION, limits: DEFAULT_LIMITS, namespace: "" })).toBe(d);
  });
});

describe("scan over key listing", () => {
  test("pages in key order, by prefix, with values; a bad cursor is INVALID_ARGUMENT", async () => {
    const d = new ListingDriver();
    const { kv, registry } = wrap(d);
    for (const k of ["b:3", "a:1", "b:1", "b:2", "c:1"]) await kv.set(k, utf8(`v-${k}`), 0);
    const signal = new AbortController().signal;
    const p1 = await Array.fromAsync(kv.scan({ prefix: "b:", limit: 2, cursor: "", withValues: true, signal }));
    expect(p1.map((e) => [e.key, text(e.value)])).toEqual([
      ["b:1", "v-b:1"],
      ["b:2", "v-b:2"],
    ]);
    expect(p1[1]!.nextCursor).toBeTruthy();
    const p2 = await Array.fromAsync(kv.scan({ prefix: "b:", limit: 2, cursor: p1[1]!.nextCursor!, withValues: true, signal }));
    expect(p2.map((e) => e.key)).toEqual(["b:3"]);
    expect(p2[0]!.nextCursor).toBeUndefined();
    expect(await kv.count("b:")).toBe(3);
    expect(await codeOf(() => kv.scan({ prefix: "", limit: 1, cursor: "garbage", withValues: false, signal }))).toBe(Code.INVALID_ARGUMENT);
    expect(await registry.getSingleMetricAsString("prism_emulated_operations_total")).toContain(
      'prism_emulated_operations_total{namespace="ns",operation="scan"} 3',
    );
  });

  test("while keys are added and deleted between pages, a key present throughout is returned exactly once", async () => {
    const d = new ListingDriver();
    const { kv } = wrap(d);
    const stable = Array.from({ length: 200 }, (_, i) => `p:${String((i * 7919) % 1000).padStart(4, "0")}`);
    for (const k of stable) await kv.set(k, utf8("x"), 0);
    let n = 0;
    const seen = await allPages(kv, "p:", 7, async () => {
      // Churn: new keys everywhere in the order, and deletions of keys that come and go.
      for (let i = 0; i < 5; i++) await kv.set(`p:${String((n * 31 + i * 97) % 1000).padStart(4, "0")}x`, utf8("new"), 0);
      await kv.delete(`p:${String((n * 31) % 1000).padStart(4, "0")}x`);
      n++;
    });
    expect(new Set(seen).size).toBe(seen.length);
    for (const k of stable) expect(seen).toContain(k);
    expect([...seen].sort()).toEqual(seen);
  });

  test("forced over a native scan, the emulated scan lists through it and returns the same keys", async () => {
    const d = new ListingDriver();
    const native = wrap(d).kv;
    for (let i = 0; i < 30; i++) await native.set(`k${i}`, utf8(`${i}`), 0);
    // A driver with a native scan: the listing driver wrapped once (scan emulated) serves as "native".
    const forced = wrap(native as object, { scan: "force" });
    expect(forced.caps.scan.support).toBe("emulated");
    expect(await allPages(forced.kv, "k", 4)).toEqual(await allPages(native, "k", 4));
  });
});

describe("batch as a pipeline of single operations", () => {
  test("results in request order, at most `concurrency` operations in flight", async () => {
    const d = new BasicOnlyDriver();
    const { kv, caps } = wrap(d, { concurrency: 4 });
    expect(caps.batch.support).toBe("emulated");
    const keys = Array.from({ length: 50 }, (_, i) => `k${i}`);
    await kv.batchSet(keys.filter((_, i) => i % 2 === 0).map((key) => ({ key, value: utf8(key), ttlSeconds: 0 })));
    const got = await kv.batchGet(keys);
    expect(got.map(text)).toEqual(keys.map((k, i) => (i % 2 === 0 ? k : undefined)));
    expect(await kv.batchDelete(["k0", "k1", "k2"])).toEqual([true, false, true]);
    expect(d.maxInFlight).toBeGreaterThan(1);
    expect(d.maxInFlight).toBeLessThanOrEqual(4);
  });

  test("a failing operation fails the batch", async () => {
    class Failing extends BasicOnlyDriver {
      override get(key: string) {
        if (key === "bad") return Promise.reject(new PrismError(Code.UNAVAILABLE, "backend down"));
        return super.get(key);
      }
    }
    const { kv } = wrap(new Failing());
    expect(await codeOf(() => kv.batchGet(["a", "bad", "c"]))).toBe(Code.UNAVAILABLE);
  });
});

describe("expiry kept beside the value", () => {
  test("expired keys are invisible at once to every read; TTL, Expire and Persist follow Redis", async () => {
    let now = 1_000_000;
    const d = new ListingDriver();
    const { kv, caps } = wrap(d, { sweepIntervalMs: 3_600_000 }, { now: () => now });
    expect(caps.expiration.support).toBe("emulated");
    await kv.set("e", utf8("soon"), 10);
    await kv.set("p", utf8("forever"), 0);
    expect(await kv.getTTL("e")).toBe(10);
    expect(await kv.getTTL("p")).toBe(-1);
    expect(await kv.getTTL("none")).toBe(-2);
    now += 9_999;
    expect(text(await kv.get("e"))).toBe("soon");
    now += 1;
    expect(await kv.get("e")).toBeUndefined();
    expect(await kv.exists("e")).toBe(false);
    expect(await kv.getTTL("e")).toBe(-2);
    expect(await kv.batchGet(["e", "p"])).toEqual([undefined, utf8("forever")]);
    const signal = new AbortController().signal;
    expect((await Array.fromAsync(kv.scan({ prefix: "", limit: 0, cursor: "", withValues: false, signal }))).map((e) => e.key)).toEqual(["p"]);
    expect(await kv.count("")).toBe(1);
    expect(await kv.delete("e")).toBe(false);
    expect(await kv.expire("e", 5)).toBe(false);

    expect(await kv.expire("p", 5)).toBe(true);
    expect(await kv.getTTL("p")).toBe(5);
    expect(await kv.persist("p")).toBe(true);
    expect(await kv.persist("p")).toBe(false);
    expect(await kv.getTTL("p")).toBe(-1);
    expect(await kv.expire("p", 0)).toBe(true);
    expect(await kv.exists("p")).toBe(false);
    expect(d.data.has("p")).toBe(false);
  });

  test("the sweeper deletes due records, at most sweep_limit per sweep, and spares a key rewritten since", async () => {
    let now = 1_000_000;
    const d = new ListingDriver();
    const registry = new Registry();
    const kv = emulateKeyValue(d, {
      policy: { ...DEFAULT_EMULATION, sweepIntervalMs: 3_600_000, sweepLimit: 10 },
      limits: DEFAULT_LIMITS,
      namespace: "ns",
      registry,
      now: () => now,
    }) as unknown as KV & { close(): Promise<void> };
    for (let i = 0; i < 25; i++) await kv.set(`k${i}`, utf8("v"), 1);
    now += 1_000;
    await kv.set("k3", utf8("rewritten"), 0);
    // One sweep, as the timer runs it (its interval is an hour here).
    const sweep = () => (kv as unknown as { sweepNow(): Promise<number> }).sweepNow();
    // Each sweep examines at most 10 due keys; 24 of the 25 are deleted in three sweeps, k3 (rewritten) is spared.
    const counts = [await sweep(), await sweep(), await sweep(), await sweep()];
    for (const c of counts) expect(c).toBeLessThanOrEqual(10);
    expect(counts[0]).toBeGreaterThanOrEqual(9);
    expect(counts.reduce((a, b) => a + b, 0)).toBe(24);
    expect(counts[3]).toBe(0);
    expect([...d.data.keys()]).toEqual(["k3"]);
    expect(text(await kv.get("k3"))).toBe("rewritten");
    await kv.close();
    expect(d.closed).toBe(true);
  });

  test("forced over a driver with native TTL, values carry the record and read back unchanged", async () => {
    class Native extends ListingDriver {
      expire = async () => true;
      getTTL = async () => -1;
      persist = async () => false;
    }
    const d = new Native();
    const { kv, caps } = wrap(d, { expiration: "force" });
    expect([caps.scan.support, caps.batch.support, caps.expiration.support]).toEqual(["emulated", "emulated", "emulated"]);
    await kv.set("k", utf8("v"), 100);
    expect(d.data.get("k")!.byteLength).toBeGreaterThan(1);
    expect(text(await kv.get("k"))).toBe("v");
    expect(await kv.getTTL("k")).toBe(100);
  });
});

describe("a driver declaring keyValueUnavailable", () => {
  test("gets no capabilities and every key-value method is UNIMPLEMENTED with the backend and why; the driver is never called", async () => {
    const inner = new ListingDriver();
    const d = Object.assign(inner, { name: "nats", keyValueUnavailable: "configure kv.bucket" });
    const kv = emulateKeyValue(d, { policy: DEFAULT_EMULATION, limits: DEFAULT_LIMITS, namespace: "ns" }) as unknown as KV;
    expect(capabilitiesOf(kv)).toBeUndefined();
    expect(refusalOf(kv)).toBe("key-value not supported by nats: configure kv.bucket");
    const signal = new AbortController().signal;
    const calls: (() => unknown)[] = [
      () => kv.set("k", utf8("v"), 0),
      () => kv.get("k"),
      () => kv.delete("k"),
      () => kv.exists("k"),
      () => kv.expire("k", 1),
      () => kv.getTTL("k"),
      () => kv.persist("k"),
      () => kv.scan({ prefix: "", limit: 0, cursor: "", withValues: false, signal }),
      () => kv.count(""),
      () => kv.batchSet([{ key: "k", value: utf8("v"), ttlSeconds: 0 }]),
      () => kv.batchGet(["k"]),
      () => kv.batchDelete(["k"]),
    ];
    for (const call of calls) expect(await codeOf(call)).toBe(Code.UNIMPLEMENTED);
    expect(inner.calls).toBe(0);
  });
});

describe("idempotency keys through the emulation layer", () => {
  const keyed = (id: string) => ({ idempotencyKey: id, windowMs: 60_000 });

  test("a driver that does not declare idempotentKeyValue: every keyed write is refused, unkeyed ones pass", async () => {
    const d = new BasicOnlyDriver();
    const { kv } = wrap(d, { scan: "off" });
    const calls: [string, () => unknown][] = [
      ["set", () => kv.set("k", utf8("v"), 0, keyed("i"))],
      ["delete", () => kv.delete("k", keyed("i"))],
      ["expire", () => kv.expire("k", 10, keyed("i"))],
      ["persist", () => kv.persist("k", keyed("i"))],
      ["batchSet", () => kv.batchSet([{ key: "k", value: utf8("v"), ttlSeconds: 0 }], keyed("i"))],
      ["batchDelete", () => kv.batchDelete(["k"], keyed("i"))],
    ];
    for (const [method, call] of calls) {
      let err: PrismError | undefined;
      try {
        await call();
      } catch (e) {
        err = PrismError.from(e);
      }
      expect(err?.code).toBe(Code.UNIMPLEMENTED);
      expect(err?.message).toBe(`x-prism-idempotency-key not supported by basic-only: its driver cannot apply a retried ${method} once`);
    }
    expect(d.data.size).toBe(0);
    await kv.set("k", utf8("v"), 0);
    expect(text(await kv.get("k"))).toBe("v");
  });

  test("emulated expiry: a retried Expire or Persist does not undo a write made after the first attempt", async () => {
    const d = new DedupingDriver();
    const { kv } = wrap(d);
    await kv.set("k", utf8("v"), 0);
    expect(await kv.expire("k", 100, keyed("e1"))).toBe(true);
    await kv.persist("k");
    await kv.expire("k", 100, keyed("e1"));
    expect(await kv.getTTL("k")).toBe(-1);

    await kv.set("p", utf8("v"), 100);
    await kv.persist("p", keyed("p1"));
    await kv.expire("p", 100);
    await kv.persist("p", keyed("p1"));
    expect(await kv.getTTL("p")).toBeGreaterThan(0);
    // The backend write made for each carries the client's key, scoped by the operation.
    expect(d.keys).toEqual(["expire\0e1", "expire\0e1", "persist\0p1", "persist\0p1"]);
  });

  test("emulated batches: each entry applied once, a key given twice in one batch still ends with its last value", async () => {
    const d = new DedupingDriver();
    const { kv, caps } = wrap(d);
    expect(caps.batch.support).toBe("emulated");
    const entries = [
      { key: "a", value: utf8("1"), ttlSeconds: 0 },
      { key: "a", value: utf8("2"), ttlSeconds: 0 },
      { key: "b", value: utf8("1"), ttlSeconds: 0 },
    ];
    await kv.batchSet(entries, keyed("b1"));
    expect(text(await kv.get("a"))).toBe("2");
    await kv.set("b", utf8("later"), 0);
    await kv.batchSet(entries, keyed("b1"));
    expect(text(await kv.get("b"))).toBe("later");

    expect(await kv.batchDelete(["a", "b"], keyed("d1"))).toEqual([true, true]);
    await kv.set("a", utf8("later"), 0);
    await kv.batchDelete(["a", "b"], keyed("d1"));
    expect(text(await kv.get("a"))).toBe("later");
  });

  test("expiration off: a keyed Set still reaches the driver with its key", async () => {
    const d = new DedupingDriver();
    const { kv } = wrap(d, { expiration: "off" });
    await kv.set("k", utf8("first"), 0, keyed("s1"));
    await kv.set("k", utf8("later"), 0);
    await kv.set("k", utf8("first"), 0, keyed("s1"));
    expect(text(await kv.get("k"))).toBe("later");
  });
});

describe("conditional writes through emulated expiry", () => {
  const mismatch = async (call: () => unknown) => {
    try {
      await call();
    } catch (err) {
      const e = PrismError.from(err);
      return { code: e.code, current: e.metadata?.["x-prism-current-version"] };
    }
    return { code: Code.OK, current: undefined };
  };

  test("versions pass through the envelope; an expired record counts as absent; tags are not offered", async () => {
    let now = 1_000_000;
    const { kv, caps } = wrap(new VersionedDriver(), {}, { now: () => now });
    const v = kv as unknown as KV & KeyValueVersionedDriver;
    expect([caps.conditionalWrites, caps.tags, caps.expiration.support]).toEqual([true, false, "emulated"]);
    const v1 = await v.setVersioned("k", utf8("a"), 0, "");
    expect(await v.getVersioned("k")).toEqual({ value: utf8("a"), version: v1 });
    expect(await mismatch(() => v.setVersioned("k", utf8("b"), 0, ""))).toEqual({ code: Code.ABORTED, current: v1 });
    const v2 = await v.setVersioned("k", utf8("b"), 10, v1);
    expect(await mismatch(() => v.deleteVersioned("k", v1))).toEqual({ code: Code.ABORTED, current: v2 });
    expect(await mismatch(() => v.deleteVersioned("k", ""))).toEqual({ code: Code.ABORTED, current: v2 });
    now += 11_000;
    expect(await v.getVersioned("k")).toBeUndefined();
    expect(await v.deleteVersioned("k", "")).toBe(false);
    const v3 = await v.setVersioned("k", utf8("c"), 0, "");
    expect(text(await kv.get("k"))).toBe("c");
    expect(await v.deleteVersioned("k", v3)).toBe(true);
    expect(await kv.exists("k")).toBe(false);
  });

  test("expiration off: a conditional write with a TTL is UNIMPLEMENTED, without one it reaches the driver", async () => {
    const { kv } = wrap(new VersionedDriver(), { expiration: "off" });
    const v = kv as unknown as KeyValueVersionedDriver;
    expect(await codeOf(() => v.setVersioned("k", utf8("a"), 5, undefined))).toBe(Code.UNIMPLEMENTED);
    expect(await v.setVersioned("k", utf8("a"), 0, "")).toBe("1");
  });
});
