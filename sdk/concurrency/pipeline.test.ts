import { describe, expect, test } from "bun:test";
import { AsyncQueue } from "./async_queue";
import { pipeline, SKIP, type Stage } from "./pipeline";
import { deferred, delay, flush } from "./test_support";

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const v of it) out.push(v);
  return out;
}

async function* numbers(n: number): AsyncGenerator<number> {
  for (let i = 0; i < n; i++) yield i;
}

describe("pipeline", () => {
  test("passes items through typed stages in order", async () => {
    const double: Stage<number, number> = { transform: async (n) => n * 2 };
    const label: Stage<number, string> = { transform: (n) => `#${n}` };
    const out: string[] = await collect(pipeline(numbers(4), [double, label]));
    expect(out).toEqual(["#0", "#2", "#4", "#6"]);
  });

  test("accepts a plain iterable as source", async () => {
    expect(await collect(pipeline([1, 2, 3], [{ transform: (n: number) => n + 1 }]))).toEqual([2, 3, 4]);
  });

  test("SKIP drops items (a filter stage)", async () => {
    const evens: Stage<number, number> = { transform: (n) => (n % 2 === 0 ? n : SKIP) };
    expect(await collect(pipeline(numbers(7), [evens]))).toEqual([0, 2, 4, 6]);
  });

  test("a concurrent ordered stage keeps input order and respects its concurrency", async () => {
    let running = 0;
    let peak = 0;
    const slowFirst: Stage<number, number> = {
      concurrency: 3,
      transform: async (n) => {
        running++;
        peak = Math.max(peak, running);
        await delay(n % 3 === 0 ? 6 : 1);
        running--;
        return n;
      },
    };
    expect(await collect(pipeline(numbers(12), [slowFirst]))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    expect(peak).toBe(3);
  });

  test("an unordered stage emits results as they complete", async () => {
    const gates = [deferred(), deferred(), deferred()];
    const stage: Stage<number, number> = {
      concurrency: 3,
      ordered: false,
      transform: async (n) => {
        await gates[n]?.promise;
        return n;
      },
    };
    const it = pipeline(numbers(3), [stage]);
    const first = it.next();
    gates[2]?.resolve();
    expect(await first).toEqual({ done: false, value: 2 });
    gates[0]?.resolve();
    gates[1]?.resolve();
    const rest = await collect(it);
    expect(rest.sort()).toEqual([0, 1]);
  });

  test("back-pressure: a consumer that stops reading stops the source from being pulled", async () => {
    let pulled = 0;
    async function* endless(): AsyncGenerator<number> {
      for (let i = 0; ; i++) {
        pulled++;
        yield i;
      }
    }
    const id: Stage<number, number> = { concurrency: 2, transform: async (n) => n };
    const it = pipeline(endless(), [id, id], { bufferSize: 2 });
    expect(await it.next()).toEqual({ done: false, value: 0 });
    await flush(5);
    const held = pulled;
    // two buffers of 2, two stages holding up to 2 each, plus one item in hand per reader
    expect(held).toBeLessThanOrEqual(12);
    await flush(5);
    expect(pulled).toBe(held);
    // reading frees room, and the source is pulled again
    for (let i = 1; i <= 5; i++) expect(await it.next()).toEqual({ done: false, value: i });
    await flush(5);
    expect(pulled).toBeGreaterThan(held);
    await it.return?.();
  });

  test("breaking out early aborts in-flight transforms and runs the source's clean-up before the loop ends", async () => {
    let sourceClosed = false;
    async function* endless(): AsyncGenerator<number> {
      try {
        for (let i = 0; ; i++) yield i;
      } finally {
        sourceClosed = true;
      }
    }
    const signals: AbortSignal[] = [];
    let started = 0;
    const stage: Stage<number, number> = {
      concurrency: 4,
      transform: (n, signal) => {
        started++;
        signals.push(signal);
        if (n === 0) return n;
        return new Promise<number>((resolve) => setTimeout(() => resolve(n), 5));
      },
    };
    for await (const v of pipeline(endless(), [stage], { bufferSize: 1 })) {
      expect(v).toBe(0);
      break;
    }
    expect(sourceClosed).toBe(true);
    expect(signals.length).toBeGreaterThan(0);
    expect(signals.every((s) => s.aborted)).toBe(true);
    const afterBreak = started;
    await delay(20);
    expect(started).toBe(afterBreak);
  });

  test("breaking out early closes an AsyncQueue source (its onClose runs)", async () => {
    let unsubscribed = 0;
    const subscription = new AsyncQueue<number>({ capacity: 4, onClose: () => unsubscribed++ });
    subscription.offer(1);
    subscription.offer(2);
    for await (const v of pipeline(subscription, [{ transform: (n: number) => n * 10 }])) {
      expect(v).toBe(10);
      break;
    }
    expect(unsubscribed).toBe(1);
  });

  test("breaking out does not hang when the source is stuck inside next()", async () => {
    let sourceClosed = false;
    async function* stuck(): AsyncGenerator<number> {
      try {
        yield 1;
        await new Promise<never>(() => undefined);
      } finally {
        sourceClosed = true;
      }
    }
    const started = performance.now();
    for await (const v of pipeline(stuck(), [{ transform: (n: number) => n }])) {
      expect(v).toBe(1);
      await flush(); // let the stage call next() on the source again, which never settles
      break;
    }
    expect(performance.now() - started).toBeLessThan(500);
    expect(sourceClosed).toBe(false); // cannot run until the stuck next() settles, but we did not wait for it
  });

  test("a failing transform stops the pipeline and the error reaches the consumer", async () => {
    let sourceClosed = false;
    async function* endless(): AsyncGenerator<number> {
      try {
        for (let i = 0; ; i++) yield i;
      } finally {
        sourceClosed = true;
      }
    }
    const boom = new Error("transform failed");
    const seen: number[] = [];
    const err = await (async () => {
      for await (const v of pipeline(endless(), [{ transform: async (n: number) => (n === 3 ? Promise.reject(boom) : n) }])) {
        seen.push(v);
      }
    })().catch((e: unknown) => e);
    expect(err).toBe(boom);
    expect(seen.length).toBeLessThanOrEqual(3);
    await flush();
    expect(sourceClosed).toBe(true);
  });

  test("an error thrown by the source reaches the consumer", async () => {
    async function* broken(): AsyncGenerator<number> {
      yield 1;
      throw new Error("cursor lost");
    }
    const seen: number[] = [];
    const err = await (async () => {
      for await (const v of pipeline(broken(), [{ transform: (n: number) => n }])) seen.push(v);
    })().catch((e: unknown) => e);
    expect((err as Error).message).toBe("cursor lost");
  });

  test("aborting the signal stops the stages and the consumer's next() rejects with the reason", async () => {
    const controller = new AbortController();
    const transformSignals: AbortSignal[] = [];
    const it = pipeline(
      numbers(100),
      [
        {
          transform: (n: number, signal) => {
            transformSignals.push(signal);
            return n === 0 ? n : new Promise<number>(() => undefined);
          },
        },
      ],
      { signal: controller.signal },
    );
    expect(await it.next()).toEqual({ done: false, value: 0 });
    const pending = it.next();
    const reason = new Error("request cancelled");
    controller.abort(reason);
    await expect(pending).rejects.toBe(reason);
    expect(transformSignals.every((s) => s.aborted)).toBe(true);
  });

  test("an already aborted signal yields the reason on the first next()", async () => {
    const controller = new AbortController();
    controller.abort(new Error("too late"));
    const it = pipeline(numbers(3), [{ transform: (n: number) => n }], { signal: controller.signal });
    await expect(it.next()).rejects.toThrow("too late");
  });
});
