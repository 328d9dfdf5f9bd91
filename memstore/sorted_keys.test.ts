import { describe, expect, test } from "bun:test";
import { lowerBound, SortedKeys, upperBound } from "./sorted_keys";

describe("SortedKeys", () => {
  test("snapshot is sorted, deduplicated and without deleted keys", () => {
    const live = new Set<string>();
    const sk = new SortedKeys((k) => live.has(k));
    for (const k of ["m", "b", "z", "a"]) {
      live.add(k);
      sk.added(k);
    }
    expect(sk.snapshot()).toEqual(["a", "b", "m", "z"]);
    live.delete("b");
    sk.removed();
    // Re-added before the next merge: in both the sorted part and pending.
    sk.added("b");
    live.add("b");
    live.add("c");
    sk.added("c");
    live.delete("m");
    sk.removed();
    expect(sk.snapshot()).toEqual(["a", "b", "c", "z"]);
  });

  test("an earlier snapshot is never mutated by later merges", () => {
    const live = new Set(["a", "c"]);
    const sk = new SortedKeys((k) => live.has(k));
    sk.added("a");
    sk.added("c");
    const first = sk.snapshot();
    live.add("b");
    sk.added("b");
    expect(sk.snapshot()).toEqual(["a", "b", "c"]);
    expect(first).toEqual(["a", "c"]);
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
    // Internal: pending merged (and emptied of dead keys) whenever it outgrew the sorted part.
    expect((sk as unknown as { pending: string[] }).pending.length).toBeLessThanOrEqual(1025);
    expect(sk.snapshot()).toEqual([]);
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
