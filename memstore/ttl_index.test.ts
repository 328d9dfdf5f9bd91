import { describe, expect, test } from "bun:test";
import { TtlIndex } from "./ttl_index";

function drain(idx: TtlIndex, now: number, limit = Infinity): [string, number][] {
  const out: [string, number][] = [];
  idx.popDue(now, limit, (k, at) => out.push([k, at]));
  return out;
}

describe("TtlIndex", () => {
  test("pops due entries in expiry order and leaves later ones", () => {
    const idx = new TtlIndex();
    const ats = [50, 10, 40, 30, 20, 60, 5, 45];
    ats.forEach((at, i) => idx.push(at, `k${i}`));
    expect(idx.peekAt()).toBe(5);
    expect(drain(idx, 40).map(([, at]) => at)).toEqual([5, 10, 20, 30, 40]);
    expect(idx.size).toBe(3);
    expect(idx.peekAt()).toBe(45);
    expect(drain(idx, 100).map(([k]) => k)).toEqual(["k7", "k0", "k5"]);
    expect(idx.peekAt()).toBe(Infinity);
  });

  test("popDue stops at the limit", () => {
    const idx = new TtlIndex();
    for (let i = 0; i < 10; i++) idx.push(i, `k${i}`);
    expect(idx.popDue(100, 3, () => {})).toBe(3);
    expect(idx.size).toBe(7);
    expect(idx.peekAt()).toBe(3);
  });

  test("stays a heap under random pushes (sorted output)", () => {
    const idx = new TtlIndex();
    const ats = Array.from({ length: 2000 }, () => Math.floor(Math.random() * 1e6));
    ats.forEach((at, i) => idx.push(at, String(i)));
    const out = drain(idx, Infinity).map(([, at]) => at);
    expect(out).toEqual([...ats].sort((a, b) => a - b));
  });

  test("compact keeps only current entries and the heap order", () => {
    const idx = new TtlIndex();
    for (let i = 0; i < 100; i++) idx.push(1000 - i, `k${i}`);
    idx.compact((k) => Number(k.slice(1)) % 2 === 0);
    expect(idx.size).toBe(50);
    const out = drain(idx, Infinity);
    expect(out.every(([k]) => Number(k.slice(1)) % 2 === 0)).toBe(true);
    expect(out.map(([, at]) => at)).toEqual(out.map(([, at]) => at).sort((a, b) => a - b));
  });
});
