import { describe, expect, test } from "bun:test";
import { IdempotencyWindow } from "./idempotency";

describe("IdempotencyWindow", () => {
  test("a key seen within the window gets the first result without running again; no key always runs", async () => {
    let now = 0;
    const w = new IdempotencyWindow<Promise<number>>(100, () => now);
    let runs = 0;
    const op = async () => ++runs;
    expect(await w.run("a", 1000, op)).toBe(1);
    expect(await w.run("a", 1000, op)).toBe(1);
    expect(await w.run(undefined, 1000, op)).toBe(2);
    expect(await w.run("b", 1000, op)).toBe(3);
    now = 1000;
    expect(await w.run("a", 1000, op)).toBe(4);
  });

  test("a retry joins an attempt still in flight", async () => {
    const w = new IdempotencyWindow<Promise<number>>();
    let release!: (v: number) => void;
    let runs = 0;
    const first = w.run("k", 1000, () => {
      runs++;
      return new Promise<number>((r) => (release = r));
    });
    const retry = w.run("k", 1000, async () => ++runs);
    release(7);
    expect(await Promise.all([first, retry])).toEqual([7, 7]);
    expect(runs).toBe(1);
  });

  test("a failed write is forgotten so its retry runs", async () => {
    const w = new IdempotencyWindow<Promise<number>>();
    await expect(w.run("k", 1000, () => Promise.reject(new Error("down")))).rejects.toThrow("down");
    expect(await w.run("k", 1000, async () => 5)).toBe(5);
  });

  test("holds at most maxEntries keys", async () => {
    const w = new IdempotencyWindow<Promise<number>>(10);
    for (let i = 0; i < 100; i++) await w.run(`k${i}`, 60_000, async () => i);
    expect(w.size).toBe(10);
  });

  test("synchronous writes: the first result is returned again; a throw records nothing", () => {
    const w = new IdempotencyWindow<number>();
    let runs = 0;
    expect(w.run("k", 1000, () => ++runs)).toBe(1);
    expect(w.run("k", 1000, () => ++runs)).toBe(1);
    expect(() =>
      w.run("x", 1000, () => {
        throw new Error("full");
      }),
    ).toThrow("full");
    expect(w.run("x", 1000, () => ++runs)).toBe(2);
  });
});
