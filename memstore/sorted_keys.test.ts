import { describe, expect, test } from "bun:test";
import { lowerBound, SortedKeys, upperBound } from "./sorted_keys";

/** Live keys from `from` on, as a scan sees them. */
function walk(sk: SortedKeys, live: Set<string>, from = "", exclusive = false): string[] {
  const out: string[] = [];
  const c = sk.cursor(from, exclusive);
  for (let k = c.next(); k !== undefined; k = c.next()) if (live.has(k)) out.push(k);
  return out;
}

/** Internal arrays, to check what a scan costs. */
const internals = (sk: SortedKeys) => sk as unknown as { sorted: string[]; pending: string[] };

/** Small deterministic PRNG (mulberry32), so a failing sequence can be replayed. */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe("SortedKeys", () => {
  test("walks in order, once per key, without deleted keys", () => {
    const live = new Set<string>();
    const sk = new SortedKeys((k) => live.has(k));
    for (const k of ["m", "b", "z", "a"]) {
      live.add(k);
      sk.added(k);
    }
    expect(walk(sk, live)).toEqual(["a", "b", "m", "z"]);
    live.delete("b");
    sk.removed();
    // Added again after the order was built: its old place serves, no second copy.
    live.add("b");
    sk.added("b");
    live.add("c");
    sk.added("c");
    live.delete("m");
    sk.removed();
    expect(walk(sk, live)).toEqual(["a", "b", "c", "z"]);
    expect(walk(sk, live, "b", true)).toEqual(["c", "z"]);
    expect(walk(sk, live, "b", false)).toEqual(["b", "c", "z"]);
    const raw: string[] = [];
    const c = sk.cursor("", false);
    for (let k = c.next(); k !== undefined; k = c.next()) raw.push(k);
    expect(raw).toEqual([...new Set(raw)].sort());
  });

  test("a scan page after each new key neither copies nor sorts the bulk of the keys", () => {
    const live = new Set<string>();
    const sk = new SortedKeys((k) => live.has(k));
    for (let i = 0; i < 10_000; i++) {
      live.add(`k${i}`);
      sk.added(`k${i}`);
    }
    walk(sk, live, "k5", false);
    const bulk = internals(sk).sorted;
    expect(bulk.length).toBe(10_000);
    for (let i = 0; i < 500; i++) {
      live.add(`n${i}`);
      sk.added(`n${i}`);
      const c = sk.cursor(`k${i * 7}`, true);
      for (let n = 0; n < 100 && c.next() !== undefined; n++);
    }
    // The 500 new keys wait in the small ordered side array; the bulk array is the same object.
    expect(internals(sk).sorted).toBe(bulk);
    expect(internals(sk).pending.length).toBe(500);
    expect(walk(sk, live).length).toBe(10_500);
  });

  test("while scanning, pending stays small: merged once it passes ~2·√n (at least 1024)", () => {
    const live = new Set<string>();
    const sk = new SortedKeys((k) => live.has(k));
    let maxPending = 0;
    for (let i = 0; i < 20_000; i++) {
      live.add(`k${i}`);
      sk.added(`k${i}`);
      if (i % 10 === 0) sk.cursor("", false).next();
      maxPending = Math.max(maxPending, internals(sk).pending.length);
    }
    expect(maxPending).toBeLessThanOrEqual(1025);
    expect(walk(sk, live).length).toBe(20_000);
  });

  test("a cursor never repeats a key or skips one held throughout, whatever changes between steps", () => {
    for (let seed = 1; seed <= 30; seed++) {
      const rand = rng(seed);
      const live = new Set<string>();
      const sk = new SortedKeys((k) => live.has(k));
      const key = () =>
        `k${Math.floor(rand() * 3000)
          .toString()
          .padStart(4, "0")}`;
      const add = (k: string) => {
        if (!live.has(k)) {
          live.add(k);
          sk.added(k);
        }
      };
      const del = (k: string) => {
        if (live.delete(k)) sk.removed();
      };
      for (let i = 0; i < 1500; i++) add(key());
      // Some seeds start walking before the order was ever built (pending unordered).
      if (seed % 2 === 0) walk(sk, live);
      const from = key();
      const heldThroughout = new Set([...live].filter((k) => k > from));
      const c = sk.cursor(from, true);
      const seen: string[] = [];
      for (let k = c.next(); k !== undefined; k = c.next()) {
        if (live.has(k)) seen.push(k);
        // Enough churn between steps to trigger merges of pending and of deleted keys.
        const churn = Math.floor(rand() * 40);
        for (let n = 0; n < churn; n++) {
          const x = key();
          if (rand() < 0.5) add(x);
          else {
            del(x);
            heldThroughout.delete(x);
          }
        }
      }
      for (let i = 1; i < seen.length; i++) expect(seen[i - 1]! < seen[i]!).toBe(true);
      const got = new Set(seen);
      for (const k of heldThroughout) expect(got.has(k)).toBe(true);
      for (const k of seen) expect(k > from).toBe(true);
    }
  });

  test("pending is bounded without scans when keys come and go", () => {
    const live = new Set<string>();
    const sk = new SortedKeys((k) => live.has(k));
    for (let i = 0; i < 50_000; i++) {
      const k = `k${i}`;
      live.add(k);
      sk.added(k);
      live.delete(k);
      sk.removed();
    }
    // Pending merged (and emptied of dead keys) whenever it outgrew the sorted part.
    expect(internals(sk).pending.length).toBeLessThanOrEqual(1025);
    expect(internals(sk).sorted.length).toBeLessThanOrEqual(1025);
    expect(walk(sk, live)).toEqual([]);
  });

  test("deleted keys are dropped once they dominate, with or without scans", () => {
    const live = new Set<string>();
    const sk = new SortedKeys((k) => live.has(k));
    for (let i = 0; i < 10_000; i++) {
      live.add(`k${i}`);
      sk.added(`k${i}`);
    }
    walk(sk, live);
    for (let i = 0; i < 9_000; i++) {
      live.delete(`k${i}`);
      sk.removed();
    }
    const held = internals(sk).sorted.length + internals(sk).pending.length;
    expect(held).toBeLessThan(10_000);
    expect(walk(sk, live).length).toBe(1_000);
  });

  test("lowerBound and upperBound", () => {
    const keys = ["a", "b", "b1", "c"];
    expect(lowerBound(keys, "b")).toBe(1);
    expect(upperBound(keys, "b")).toBe(2);
    expect(lowerBound(keys, "")).toBe(0);
    expect(upperBound(keys, "c")).toBe(4);
    expect(lowerBound(keys, "bz")).toBe(3);
  });
});
