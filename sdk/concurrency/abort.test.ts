import { describe, expect, test } from "bun:test";
import { abortReason, anySignal, raceAbort, sleep } from "./abort";
import { deferred, isSettled } from "./test_support";

describe("abort helpers", () => {
  test("abortReason gives the signal's reason, or an AbortError when there is none", () => {
    const withReason = new AbortController();
    const reason = new Error("bye");
    withReason.abort(reason);
    expect(abortReason(withReason.signal)).toBe(reason);
    const plain = new AbortController();
    plain.abort();
    expect((abortReason(plain.signal) as Error).name).toBe("AbortError");
  });

  test("sleep waits roughly the given time", async () => {
    const started = performance.now();
    await sleep(15);
    expect(performance.now() - started).toBeGreaterThanOrEqual(10);
  });

  test("sleep rejects as soon as the signal aborts", async () => {
    const controller = new AbortController();
    const started = performance.now();
    const p = sleep(10_000, controller.signal);
    setTimeout(() => controller.abort(new Error("stop")), 5);
    await expect(p).rejects.toThrow("stop");
    expect(performance.now() - started).toBeLessThan(1000);
  });

  test("raceAbort settles like the promise, or with the abort reason if that comes first", async () => {
    expect(await raceAbort(Promise.resolve(1), new AbortController().signal)).toBe(1);
    await expect(raceAbort(Promise.reject(new Error("x")), new AbortController().signal)).rejects.toThrow("x");

    const controller = new AbortController();
    const never = deferred<number>();
    const raced = raceAbort(never.promise, controller.signal);
    expect(await isSettled(raced)).toBe(false);
    controller.abort(new Error("gave up"));
    await expect(raced).rejects.toThrow("gave up");
    // the abandoned promise failing later is not an unhandled rejection
    never.reject(new Error("late"));

    const already = new AbortController();
    already.abort(new Error("early"));
    await expect(raceAbort(Promise.reject(new Error("ignored")), already.signal)).rejects.toThrow("early");
  });

  test("anySignal aborts when any input does and skips undefined inputs", () => {
    expect(anySignal(undefined, undefined)).toBeUndefined();
    const a = new AbortController();
    expect(anySignal(a.signal, undefined)).toBe(a.signal);
    const b = new AbortController();
    const both = anySignal(a.signal, b.signal);
    expect(both?.aborted).toBe(false);
    b.abort(new Error("b"));
    expect(both?.aborted).toBe(true);
    expect((both!.reason as Error).message).toBe("b");
  });
});
