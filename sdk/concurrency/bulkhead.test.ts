import { describe, expect, test } from "bun:test";
import { Code, PrismError } from "../errors";
import { Bulkhead } from "./bulkhead";
import { deferred, flush, isSettled } from "./test_support";

describe("Bulkhead", () => {
  test("never runs more than maxConcurrent at once", async () => {
    const bulkhead = new Bulkhead({ name: "pg", maxConcurrent: 2, maxQueue: 10 });
    let running = 0;
    let peak = 0;
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        bulkhead.execute(async () => {
          running++;
          peak = Math.max(peak, running);
          await flush(1);
          running--;
          return i;
        }),
      ),
    );
    expect(results).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(peak).toBe(2);
    expect(bulkhead.active).toBe(0);
  });

  test("queues up to maxQueue, then refuses with RESOURCE_EXHAUSTED without running fn", async () => {
    const bulkhead = new Bulkhead({ name: "pg", maxConcurrent: 1, maxQueue: 1 });
    const gate = deferred();
    const running = bulkhead.execute(() => gate.promise);
    let queuedRan = false;
    const queued = bulkhead.execute(async () => {
      queuedRan = true;
    });
    expect(bulkhead.active).toBe(1);
    expect(bulkhead.queued).toBe(1);

    let overflowRan = false;
    const err = await bulkhead
      .execute(async () => {
        overflowRan = true;
      })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PrismError);
    expect((err as PrismError).code).toBe(Code.RESOURCE_EXHAUSTED);
    expect((err as PrismError).message).toContain("pg");
    expect(overflowRan).toBe(false);

    expect(await isSettled(queued)).toBe(false);
    gate.resolve();
    await running;
    await queued;
    expect(queuedRan).toBe(true);
  });

  test("with no queue, the first caller beyond capacity is refused", async () => {
    const bulkhead = new Bulkhead({ name: "kv", maxConcurrent: 1 });
    const gate = deferred();
    const running = bulkhead.execute(() => gate.promise);
    await expect(bulkhead.execute(async () => 1)).rejects.toMatchObject({ code: Code.RESOURCE_EXHAUSTED });
    gate.resolve();
    await running;
    expect(await bulkhead.execute(async () => 2)).toBe(2);
  });

  test("a queued caller that waits longer than queueTimeoutMs is refused and leaves the queue", async () => {
    const bulkhead = new Bulkhead({ name: "kv", maxConcurrent: 1, maxQueue: 1, queueTimeoutMs: 20 });
    const gate = deferred();
    const running = bulkhead.execute(() => gate.promise);
    let ran = false;
    const started = performance.now();
    const err = await bulkhead
      .execute(async () => {
        ran = true;
      })
      .catch((e: unknown) => e);
    expect(performance.now() - started).toBeGreaterThanOrEqual(15);
    expect((err as PrismError).code).toBe(Code.RESOURCE_EXHAUSTED);
    expect(ran).toBe(false);
    expect(bulkhead.queued).toBe(0);
    gate.resolve();
    await running;
  });

  test("aborting a queued caller rejects with the reason and frees its queue place", async () => {
    const bulkhead = new Bulkhead({ name: "kv", maxConcurrent: 1, maxQueue: 1 });
    const gate = deferred();
    const running = bulkhead.execute(() => gate.promise);
    const controller = new AbortController();
    let ran = false;
    const waiting = bulkhead.execute(async () => {
      ran = true;
    }, controller.signal);
    const reason = new Error("client went away");
    controller.abort(reason);
    await expect(waiting).rejects.toBe(reason);
    expect(bulkhead.queued).toBe(0);
    // the freed place can be taken again
    const next = bulkhead.execute(async () => "next");
    gate.resolve();
    await running;
    expect(await next).toBe("next");
    expect(ran).toBe(false);
  });

  test("an already aborted signal is refused before taking a slot", async () => {
    const bulkhead = new Bulkhead({ name: "kv", maxConcurrent: 1 });
    const controller = new AbortController();
    controller.abort();
    await expect(bulkhead.execute(async () => 1, controller.signal)).rejects.toMatchObject({ name: "AbortError" });
    expect(bulkhead.active).toBe(0);
  });

  test("a failing fn releases its slot", async () => {
    const bulkhead = new Bulkhead({ name: "kv", maxConcurrent: 1 });
    await expect(bulkhead.execute(() => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
    expect(bulkhead.active).toBe(0);
    expect(await bulkhead.execute(async () => "again")).toBe("again");
  });
});
