import { describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { HashRing } from "./ring";

const keys = Array.from({ length: 20_000 }, () => randomBytes(16).toString("hex"));

function movedFraction(before: HashRing, after: HashRing): number {
  let moved = 0;
  for (const k of keys) if (before.owner(k) !== after.owner(k)) moved++;
  return moved / keys.length;
}

describe("HashRing", () => {
  test("every key has one owner, the same on every ring built from the same members in any order", () => {
    const a = new HashRing(["s1", "s2", "s3"]);
    const b = new HashRing(["s3", "s1", "s2"]);
    for (const k of keys.slice(0, 2000)) {
      expect(a.owner(k)).toBe(b.owner(k)!);
      expect(["s1", "s2", "s3"]).toContain(a.owner(k)!);
    }
    expect(new HashRing([]).owner("x")).toBeUndefined();
    expect(() => new HashRing(["a", "a"])).toThrow("unique");
  });

  test("keys spread over the shards within 25% of an even share", () => {
    const ring = new HashRing(["s1", "s2", "s3", "s4"]);
    const counts = new Map<string, number>();
    for (const k of keys) counts.set(ring.owner(k)!, (counts.get(ring.owner(k)!) ?? 0) + 1);
    for (const c of counts.values()) expect(Math.abs(c / keys.length - 0.25)).toBeLessThan(0.25 * 0.25);
  });

  test("adding one shard to N moves about 1/(N+1) of the keys, removing one of N about 1/N, and only to / from that shard", () => {
    for (const n of [3, 4, 8]) {
      const names = Array.from({ length: n }, (_, i) => `shard-${i}`);
      const ring = new HashRing(names);
      const grown = new HashRing([...names, "shard-new"]);
      const added = movedFraction(ring, grown);
      for (const k of keys) if (ring.owner(k) !== grown.owner(k)) expect(grown.owner(k)).toBe("shard-new");
      const shrunk = new HashRing(names.slice(1));
      const removed = movedFraction(ring, shrunk);
      for (const k of keys) if (ring.owner(k) !== shrunk.owner(k)) expect(ring.owner(k)).toBe("shard-0");
      console.log(
        `N=${n}: adding a shard moved ${(added * 100).toFixed(1)}% of ${keys.length} keys (ideal ${(100 / (n + 1)).toFixed(1)}%), ` +
          `removing one moved ${(removed * 100).toFixed(1)}% (ideal ${(100 / n).toFixed(1)}%)`,
      );
      expect(Math.abs(added - 1 / (n + 1))).toBeLessThan(0.3 / (n + 1));
      expect(Math.abs(removed - 1 / n)).toBeLessThan(0.3 / n);
    }
  });
});
