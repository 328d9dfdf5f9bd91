import { afterEach, describe, expect, test, setSystemTime } from "bun:test";
import { Code, PrismError } from "../sdk/grpc/errors";
import type { ScanEntry } from "../sdk/drivers/interfaces";
import { KvStore } from "./kv_store";

const T0 = new Date("2030-01-01T00:00:00Z").getTime();
const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array | undefined) => (b === undefined ? undefined : new TextDecoder().decode(b));
const never = new AbortController().signal;

function page(kv: KvStore, prefix: string, limit: number, cursor = "", withValues = false): ScanEntry[] {
  return [...kv.scan({ prefix, limit, cursor, withValues, signal: never })];
}

/** Every key with the prefix, page by page, following next cursors. */
function scanAll(kv: KvStore, prefix: string, limit: number, between?: (pageNo: number) => void): string[] {
  const keys: string[] = [];
  let cursor = "";
  for (let n = 0; ; n++) {
    const p = page(kv, prefix, limit, cursor);
    expect(p.length).toBeLessThanOrEqual(limit);
    expect(p.slice(0, -1).every((e) => e.nextCursor === undefined)).toBe(true);
    keys.push(...p.map((e) => e.key));
    const next = p.at(-1)?.nextCursor;
    if (!next) return keys;
    cursor = next;
    between?.(n);
  }
}

function thrownCode(fn: () => unknown): number | undefined {
  try {
    fn();
  } catch (err) {
    return PrismError.from(err).code;
  }
  return undefined;
}

afterEach(() => setSystemTime());

/** Nodes in the store's expiry heap (internal, to check it stays bounded). */
const heapSize = (kv: KvStore) => (kv as unknown as { expiries: { size: number } }).expiries.size;

describe("KvStore basics", () => {
  test("set, get, overwrite, delete, exists", () => {
    const kv = new KvStore(10);
    expect(kv.get("a")).toBeUndefined();
    kv.set("a", bytes("1"), 0);
    expect(text(kv.get("a"))).toBe("1");
    kv.set("a", bytes("2"), 0);
    expect(text(kv.get("a"))).toBe("2");
    expect(kv.exists("a")).toBe(true);
    expect(kv.delete("a")).toBe(true);
    expect(kv.delete("a")).toBe(false);
    expect(kv.exists("a")).toBe(false);
    expect(kv.size).toBe(0);
  });

  test("keeps a copy of a view, not the buffer it points into", () => {
    const kv = new KvStore(10);
    const big = new Uint8Array(8192).fill(7);
    kv.set("k", big.subarray(10, 13), 0);
    const stored = kv.get("k")!;
    expect(stored.buffer.byteLength).toBe(3);
    big.fill(0);
    expect([...stored]).toEqual([7, 7, 7]);
  });
});

describe("KvStore TTL", () => {
  test("expires lazily on access without a sweep", () => {
    setSystemTime(T0);
    const kv = new KvStore(10);
    kv.set("k", bytes("v"), 2);
    expect(kv.getTTL("k")).toBe(2);
    setSystemTime(T0 + 1500);
    expect(kv.getTTL("k")).toBe(1);
    expect(text(kv.get("k"))).toBe("v");
    setSystemTime(T0 + 2000);
    expect(kv.get("k")).toBeUndefined();
    expect(kv.getTTL("k")).toBe(-2);
    expect(kv.size).toBe(0);
    expect(kv.expired).toBe(1);
  });

  test("ttl 0 means none; overwrite resets the TTL", () => {
    setSystemTime(T0);
    const kv = new KvStore(10);
    kv.set("k", bytes("v"), 0);
    expect(kv.getTTL("k")).toBe(-1);
    kv.set("t", bytes("v"), 1);
    kv.set("t", bytes("w"), 0);
    expect(kv.getTTL("t")).toBe(-1);
    kv.set("u", bytes("v"), 1);
    setSystemTime(T0 + 900);
    kv.set("u", bytes("w"), 5);
    setSystemTime(T0 + 3000);
    expect(text(kv.get("u"))).toBe("w");
    expect(kv.getTTL("u")).toBe(3);
  });

  test("expire, persist and their return values (Redis semantics)", () => {
    setSystemTime(T0);
    const kv = new KvStore(10);
    expect(kv.expire("missing", 10)).toBe(false);
    expect(kv.persist("missing")).toBe(false);
    kv.set("k", bytes("v"), 0);
    expect(kv.persist("k")).toBe(false);
    expect(kv.expire("k", 10)).toBe(true);
    expect(kv.getTTL("k")).toBe(10);
    expect(kv.withTtl).toBe(1);
    expect(kv.persist("k")).toBe(true);
    expect(kv.getTTL("k")).toBe(-1);
    expect(kv.withTtl).toBe(0);
    setSystemTime(T0 + 60_000);
    expect(kv.exists("k")).toBe(true);
    expect(kv.expire("k", 0)).toBe(true);
    expect(kv.exists("k")).toBe(false);
    kv.set("n", bytes("v"), 0);
    expect(kv.expire("n", -5)).toBe(true);
    expect(kv.getTTL("n")).toBe(-2);
  });

  test("sweep reclaims expired keys without access, bounded per call", () => {
    setSystemTime(T0);
    const kv = new KvStore(100);
    for (let i = 0; i < 50; i++) kv.set(`k${i}`, bytes("v"), 1);
    kv.set("forever", bytes("v"), 0);
    setSystemTime(T0 + 1000);
    expect(kv.sweep(Date.now(), 20)).toBe(false);
    expect(kv.size).toBe(31);
    expect(kv.sweep(Date.now(), 1000)).toBe(true);
    expect(kv.size).toBe(1);
    expect(kv.withTtl).toBe(0);
  });

  test("count sweeps at most sweep_limit nodes yet never counts an expired key", () => {
    setSystemTime(T0);
    const kv = new KvStore(1000, 10);
    for (let i = 0; i < 100; i++) kv.set(`a:${i}`, bytes("v"), 1);
    for (let i = 0; i < 5; i++) kv.set(`b:${i}`, bytes("v"), 0);
    setSystemTime(T0 + 1000);
    expect(kv.count("")).toBe(5);
    // One bounded sweep: 10 of the 100 expired keys reclaimed, not all of them.
    expect(kv.size).toBe(95);
    expect(kv.count("a:")).toBe(0);
    expect(kv.count("b:")).toBe(5);
    expect(kv.size).toBe(75);
    expect(kv.count("")).toBe(5);
    // Once nothing due is left, count("") is the map size.
    while (!kv.sweep(Date.now(), 10));
    expect(kv.size).toBe(5);
    expect(kv.count("")).toBe(5);
  });

  test("a persisted or rewritten key is not reclaimed by its old heap entry", () => {
    setSystemTime(T0);
    const kv = new KvStore(10);
    kv.set("p", bytes("v"), 1);
    kv.persist("p");
    kv.set("r", bytes("v"), 1);
    kv.set("r", bytes("v"), 10);
    kv.set("d", bytes("v"), 1);
    kv.delete("d");
    kv.set("d", bytes("v"), 0);
    setSystemTime(T0 + 5000);
    kv.sweep(Date.now(), Infinity);
    expect(kv.exists("p")).toBe(true);
    expect(kv.exists("r")).toBe(true);
    expect(kv.exists("d")).toBe(true);
  });

  test("a TTL pushed further out is honoured by the sweep without a new heap node", () => {
    setSystemTime(T0);
    const kv = new KvStore(10);
    kv.set("k", bytes("v"), 1);
    kv.set("k", bytes("v"), 10);
    kv.set("e", bytes("v"), 1);
    kv.expire("e", 5);
    expect(heapSize(kv)).toBe(2);
    setSystemTime(T0 + 1000);
    kv.sweep(Date.now(), Infinity);
    expect(kv.size).toBe(2);
    setSystemTime(T0 + 5000);
    kv.sweep(Date.now(), Infinity);
    expect(kv.size).toBe(1);
    setSystemTime(T0 + 10_000);
    kv.sweep(Date.now(), Infinity);
    expect(kv.size).toBe(0);
    expect(kv.expired).toBe(2);
    expect(heapSize(kv)).toBe(0);
  });

  test("rewrites and delete/re-set cycles with TTLs do not grow the heap without bound", () => {
    setSystemTime(T0);
    const kv = new KvStore(10);
    for (let i = 0; i < 100_000; i++) kv.set(`k${i % 5}`, bytes("v"), 3600);
    expect(heapSize(kv)).toBe(5);
    for (let i = 0; i < 100_000; i++) {
      kv.set("cycle", bytes("v"), 3600 - (i % 7));
      if (i % 2 === 0) kv.delete("cycle");
    }
    expect(heapSize(kv)).toBeLessThanOrEqual(1024 + 2 * kv.size);
  });
});

describe("KvStore scan", () => {
  test("prefix, order, values and counts", () => {
    const kv = new KvStore(100);
    for (const k of ["user:2", "user:1", "users", "user:10", "other", "use"]) kv.set(k, bytes(`v-${k}`), 0);
    const all = page(kv, "user:", 0, "", true);
    expect(all.map((e) => e.key)).toEqual(["user:1", "user:10", "user:2"]);
    expect(all.map((e) => text(e.value))).toEqual(["v-user:1", "v-user:10", "v-user:2"]);
    expect(all.every((e) => e.nextCursor === undefined)).toBe(true);
    expect(page(kv, "user:", 0).every((e) => e.value === undefined)).toBe(true);
    expect(kv.count("user:")).toBe(3);
    expect(kv.count("")).toBe(6);
    expect(kv.count("nothing")).toBe(0);
  });

  test("next cursor only on the last entry of a page cut by limit", () => {
    const kv = new KvStore(100);
    for (const k of ["a", "b", "c", "d"]) kv.set(k, bytes("v"), 0);
    const p1 = page(kv, "", 2);
    expect(p1.map((e) => e.key)).toEqual(["a", "b"]);
    expect(p1[1]!.nextCursor).toBe("b");
    const p2 = page(kv, "", 2, p1[1]!.nextCursor);
    expect(p2.map((e) => e.key)).toEqual(["c", "d"]);
    expect(p2[1]!.nextCursor).toBeUndefined();
    expect(page(kv, "", 4).at(-1)!.nextCursor).toBeUndefined();
  });

  test("paging sees every key exactly once while keys are added and deleted", () => {
    const kv = new KvStore(10_000);
    const original = Array.from({ length: 500 }, (_, i) => `p:${String(i).padStart(4, "0")}`);
    for (const k of original) kv.set(k, bytes("v"), 0);
    kv.set("q:outside", bytes("v"), 0);
    const extra: string[] = [];
    const seen = scanAll(kv, "p:", 37, (n) => {
      // Before and after the cursor, inside and outside the prefix.
      for (const k of [`p:${n}x`, `p:0000${n}`, `p:9999-${n}`, `o:${n}`]) {
        kv.set(k, bytes("v"), 0);
        extra.push(k);
      }
      kv.delete(`p:9999-${n - 1}`);
    });
    expect(new Set(seen).size).toBe(seen.length);
    for (const k of original) expect(seen).toContain(k);
    expect(seen.every((k) => k.startsWith("p:"))).toBe(true);
  });

  test("expired keys are skipped and a cursor past the prefix ends the scan", () => {
    setSystemTime(T0);
    const kv = new KvStore(100);
    kv.set("a1", bytes("v"), 1);
    kv.set("a2", bytes("v"), 0);
    setSystemTime(T0 + 1000);
    expect(page(kv, "a", 0).map((e) => e.key)).toEqual(["a2"]);
    expect(kv.count("a")).toBe(1);
    expect(page(kv, "a", 0, "b")).toEqual([]);
    expect(page(kv, "a", 0, "0").map((e) => e.key)).toEqual(["a2"]);
  });

  test("an aborted scan stops", () => {
    const kv = new KvStore(100);
    for (let i = 0; i < 10; i++) kv.set(`k${i}`, bytes("v"), 0);
    const ac = new AbortController();
    const got: string[] = [];
    for (const e of kv.scan({ prefix: "", limit: 0, cursor: "", withValues: false, signal: ac.signal })) {
      got.push(e.key);
      if (got.length === 3) ac.abort();
    }
    expect(got.length).toBe(3);
  });
});

describe("KvStore capacity and batches", () => {
  test("a new key beyond max_keys is RESOURCE_EXHAUSTED; overwrite and delete still work", () => {
    const kv = new KvStore(3);
    for (const k of ["a", "b", "c"]) kv.set(k, bytes("v"), 0);
    expect(thrownCode(() => kv.set("d", bytes("v"), 0))).toBe(Code.RESOURCE_EXHAUSTED);
    kv.set("a", bytes("w"), 0);
    expect(text(kv.get("a"))).toBe("w");
    kv.delete("b");
    kv.set("d", bytes("v"), 0);
    expect(kv.size).toBe(3);
  });

  test("expired keys make room when the store is full", () => {
    setSystemTime(T0);
    const kv = new KvStore(2);
    kv.set("a", bytes("v"), 1);
    kv.set("b", bytes("v"), 0);
    setSystemTime(T0 + 1000);
    kv.set("c", bytes("v"), 0);
    expect(kv.exists("c")).toBe(true);
    expect(kv.exists("a")).toBe(false);
  });

  test("batchSet is refused whole when the new keys do not fit", () => {
    const kv = new KvStore(4);
    kv.set("a", bytes("v"), 0);
    kv.set("b", bytes("v"), 0);
    const batch = ["a", "c", "d", "e"].map((key) => ({ key, value: bytes("n"), ttlSeconds: 0 }));
    expect(thrownCode(() => kv.batchSet(batch))).toBe(Code.RESOURCE_EXHAUSTED);
    expect(kv.exists("c")).toBe(false);
    expect(text(kv.get("a"))).toBe("v");
    // Duplicates and existing keys need no room.
    kv.batchSet(["a", "b", "c", "c", "d"].map((key) => ({ key, value: bytes("n"), ttlSeconds: 0 })));
    expect(kv.size).toBe(4);
    expect(kv.batchGet(["a", "x", "d"]).map(text)).toEqual(["n", undefined, "n"]);
    expect(kv.batchDelete(["a", "x", "a"])).toEqual([true, false, false]);
  });
});
