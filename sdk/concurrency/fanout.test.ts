import { describe, expect, test } from "bun:test";
import { Code, PrismError } from "../errors";
import { boundedFanOut, boundedFanOutWithTimeout } from "./fanout";
import { delay, deferred } from "./test_support";

describe("boundedFanOut", () => {
  test("returns results in input order even when later items finish first", async () => {
    const finished: number[] = [];
    const results = await boundedFanOut([30, 20, 10, 0], 4, async (ms, i) => {
      await delay(ms);
      finished.push(i);
      return `item-${i}`;
    });
    expect(finished).toEqual([3, 2, 1, 0]);
    expect(results).toEqual([
      { status: "fulfilled", value: "item-0" },
      { status: "fulfilled", value: "item-1" },
      { status: "fulfilled", value: "item-2" },
      { status: "fulfilled", value: "item-3" },
    ]);
  });

  test("never has more than `concurrency` calls in flight", async () => {
    let running = 0;
    let peak = 0;
    const items = Array.from({ length: 20 }, (_, i) => i);
    const results = await boundedFanOut(items, 3, async (n) => {
      running++;
      peak = Math.max(peak, running);
      await delay(1);
      running--;
      return n * 2;
    });
    expect(peak).toBe(3);
    expect(results.map((r) => (r.status === "fulfilled" ? r.value : -1))).toEqual(items.map((n) => n * 2));
  });

  test("one failure does not lose the other results", async () => {
    const boom = new PrismError(Code.UNAVAILABLE, "region eu down");
    const results = await boundedFanOut(["us", "eu", "ap"], 2, async (region) => {
      if (region === "eu") throw boom;
      return region.toUpperCase();
    });
    expect(results).toEqual([
      { status: "fulfilled", value: "US" },
      { status: "rejected", reason: boom },
      { status: "fulfilled", value: "AP" },
    ]);
  });

  test("a synchronous throw is captured as that item's rejection", async () => {
    const results = await boundedFanOut([1, 2], 1, (n) => {
      if (n === 1) throw new Error("sync");
      return Promise.resolve(n);
    });
    expect(results[0]).toMatchObject({ status: "rejected" });
    expect(results[1]).toEqual({ status: "fulfilled", value: 2 });
  });

  test("abort returns at once: in-flight and unstarted items are rejected with the reason", async () => {
    const controller = new AbortController();
    const started: number[] = [];
    const signals: AbortSignal[] = [];
    const first = deferred<string>();
    const p = boundedFanOut(
      [0, 1, 2, 3],
      2,
      (i, _idx, signal) => {
        started.push(i);
        signals.push(signal);
        return i === 0 ? first.promise : new Promise<string>(() => undefined);
      },
      controller.signal,
    );
    await delay(1);
    first.resolve("done");
    await delay(1);
    const reason = new Error("cancelled");
    controller.abort(reason);
    const results = await p;
    expect(started).toEqual([0, 1, 2]);
    expect(results).toEqual([
      { status: "fulfilled", value: "done" },
      { status: "rejected", reason },
      { status: "rejected", reason },
      { status: "rejected", reason },
    ]);
    expect(signals.every((s) => s.aborted)).toBe(true);
  });

  test("empty input gives empty output; invalid concurrency is refused", async () => {
    expect(await boundedFanOut([], 3, async () => 1)).toEqual([]);
    await expect(boundedFanOut([1], 0, async () => 1)).rejects.toThrow(RangeError);
  });
});

describe("boundedFanOutWithTimeout", () => {
  test("an item over its timeout is rejected with DEADLINE_EXCEEDED and its signal aborted; others succeed", async () => {
    let slowSignal: AbortSignal | undefined;
    const started = performance.now();
    const results = await boundedFanOutWithTimeout(["fast", "slow", "fast2"], 3, 20, (name, _i, signal) => {
      if (name !== "slow") return Promise.resolve(name);
      slowSignal = signal;
      return new Promise<string>(() => undefined);
    });
    expect(performance.now() - started).toBeLessThan(500);
    expect(results[0]).toEqual({ status: "fulfilled", value: "fast" });
    expect(results[2]).toEqual({ status: "fulfilled", value: "fast2" });
    const slow = results[1];
    expect(slow?.status).toBe("rejected");
    const reason = slow?.status === "rejected" ? (slow.reason as PrismError) : undefined;
    expect(reason).toBeInstanceOf(PrismError);
    expect(reason?.code).toBe(Code.DEADLINE_EXCEEDED);
    expect(slowSignal?.aborted).toBe(true);
  });

  test("a timed-out item frees its slot for the next item", async () => {
    const order: string[] = [];
    const results = await boundedFanOutWithTimeout(["hang", "next"], 1, 10, async (name) => {
      order.push(name);
      if (name === "hang") await new Promise<never>(() => undefined);
      return name;
    });
    expect(order).toEqual(["hang", "next"]);
    expect(results[1]).toEqual({ status: "fulfilled", value: "next" });
  });
});
