import { describe, expect, test } from "bun:test";
import { Code, PrismError } from "../errors";
import { backoff, isTransient, retry } from "./retry";

const unavailable = () => new PrismError(Code.UNAVAILABLE, "backend down");

describe("backoff", () => {
  test("without jitter grows exponentially from initialDelayMs and is capped at maxDelayMs", () => {
    const opts = { initialDelayMs: 100, maxDelayMs: 1000, multiplier: 2, jitter: "none" as const };
    expect([1, 2, 3, 4, 5, 6].map((a) => backoff(a, opts))).toEqual([100, 200, 400, 800, 1000, 1000]);
  });

  test("full jitter stays within [0, ceiling) at the extremes of the random source", () => {
    const opts = { initialDelayMs: 100, maxDelayMs: 1000 };
    expect(backoff(3, { ...opts, random: () => 0 })).toBe(0);
    const high = backoff(3, { ...opts, random: () => 0.999 });
    expect(high).toBeLessThan(400);
    expect(high).toBeGreaterThanOrEqual(399);
    expect(backoff(3, { ...opts, random: () => 0.5 })).toBe(200);
    // a broken random source cannot push the delay past the ceiling
    expect(backoff(3, { ...opts, random: () => 7 })).toBe(400);
    expect(backoff(3, { ...opts, random: () => -1 })).toBe(0);
  });

  test("full jitter samples are spread over the whole range and never exceed the cap", () => {
    const opts = { initialDelayMs: 10, maxDelayMs: 50 };
    const samples = Array.from({ length: 5000 }, () => backoff(4, opts)); // ceiling min(50, 80) = 50
    expect(Math.min(...samples)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...samples)).toBeLessThan(50);
    const mean = samples.reduce((a, b) => a + b, 0) / samples.length;
    expect(mean).toBeGreaterThan(20);
    expect(mean).toBeLessThan(30);
    expect(samples.filter((s) => s < 10).length).toBeGreaterThan(0);
    expect(samples.filter((s) => s > 40).length).toBeGreaterThan(0);
  });

  test("huge or invalid attempt numbers stay finite and bounded", () => {
    const opts = { initialDelayMs: 100, maxDelayMs: 5000, jitter: "none" as const };
    expect(backoff(1_000_000, opts)).toBe(5000);
    expect(backoff(0, opts)).toBe(100);
    expect(backoff(Number.NaN, opts)).toBe(100);
  });
});

describe("isTransient", () => {
  test("retries only codes the contract calls safe to retry", () => {
    expect(isTransient(unavailable())).toBe(true);
    expect(isTransient(new PrismError(Code.DEADLINE_EXCEEDED, "slow"))).toBe(true);
    expect(isTransient(new PrismError(Code.RESOURCE_EXHAUSTED, "full"))).toBe(true);
    expect(isTransient(new PrismError(Code.INVALID_ARGUMENT, "empty key"))).toBe(false);
    expect(isTransient(new PrismError(Code.NOT_FOUND, "no namespace"))).toBe(false);
    expect(isTransient(new Error("bug"))).toBe(false);
    expect(isTransient(new DOMException("aborted", "AbortError"))).toBe(false);
  });
});

describe("retry", () => {
  test("retries transient failures and returns the first success, with backoff delays between", async () => {
    const seen: Array<[number, number]> = [];
    let calls = 0;
    const value = await retry(
      async (attempt) => {
        calls++;
        expect(attempt).toBe(calls);
        if (attempt < 3) throw unavailable();
        return "ok";
      },
      { maxAttempts: 5, initialDelayMs: 2, multiplier: 3, random: () => 0.5, onRetry: (_e, a, d) => seen.push([a, d]) },
    );
    expect(value).toBe("ok");
    expect(calls).toBe(3);
    expect(seen).toEqual([
      [1, 1],
      [2, 3],
    ]);
  });

  test("gives up after maxAttempts and throws the last error unchanged", async () => {
    const errors: PrismError[] = [];
    let calls = 0;
    const p = retry(
      async () => {
        calls++;
        const err = unavailable();
        errors.push(err);
        throw err;
      },
      { maxAttempts: 4, initialDelayMs: 1 },
    );
    const err = await p.catch((e: unknown) => e);
    expect(calls).toBe(4);
    expect(err).toBe(errors[3]);
  });

  test("does not retry errors the predicate rejects", async () => {
    let calls = 0;
    const bad = new PrismError(Code.INVALID_ARGUMENT, "empty key");
    await expect(
      retry(
        async () => {
          calls++;
          throw bad;
        },
        { maxAttempts: 5, initialDelayMs: 1 },
      ),
    ).rejects.toBe(bad);
    expect(calls).toBe(1);

    let custom = 0;
    await expect(
      retry(
        async () => {
          custom++;
          throw new Error(custom < 2 ? "flaky" : "fatal");
        },
        { maxAttempts: 5, initialDelayMs: 1, retryable: (e) => (e as Error).message === "flaky" },
      ),
    ).rejects.toThrow("fatal");
    expect(custom).toBe(2);
  });

  test("a synchronous throw inside fn is handled like a rejection", async () => {
    let calls = 0;
    const value = await retry(
      (attempt) => {
        calls++;
        if (attempt === 1) throw unavailable();
        return Promise.resolve(attempt);
      },
      { initialDelayMs: 1 },
    );
    expect(value).toBe(2);
    expect(calls).toBe(2);
  });

  test("abort during the backoff wait rejects at once with the reason and makes no further attempt", async () => {
    const controller = new AbortController();
    const reason = new Error("shutting down");
    let calls = 0;
    const started = performance.now();
    const p = retry(
      async () => {
        calls++;
        throw unavailable();
      },
      {
        maxAttempts: 10,
        initialDelayMs: 10_000,
        jitter: "none",
        signal: controller.signal,
        onRetry: () => setTimeout(() => controller.abort(reason), 5),
      },
    );
    await expect(p).rejects.toBe(reason);
    expect(performance.now() - started).toBeLessThan(1000);
    expect(calls).toBe(1);
  });

  test("abort while an attempt is in flight stops waiting for it", async () => {
    const controller = new AbortController();
    let calls = 0;
    const p = retry(
      () => {
        calls++;
        return new Promise<never>(() => undefined);
      },
      { signal: controller.signal },
    );
    setTimeout(() => controller.abort(), 5);
    const err = await p.catch((e: unknown) => e);
    expect((err as Error).name).toBe("AbortError");
    expect(calls).toBe(1);
  });

  test("an already aborted signal means fn is never called", async () => {
    const controller = new AbortController();
    controller.abort(new Error("gone"));
    let calls = 0;
    await expect(
      retry(
        async () => {
          calls++;
        },
        { signal: controller.signal },
      ),
    ).rejects.toThrow("gone");
    expect(calls).toBe(0);
  });
});
