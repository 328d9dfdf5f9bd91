import { describe, expect, test } from "bun:test";
import { Semaphore } from "./semaphore";
import { isSettled } from "./test_support";

describe("Semaphore", () => {
  test("grants permits up to the limit, then makes callers wait in FIFO order", async () => {
    const sem = new Semaphore(2);
    const r1 = await sem.acquire();
    await sem.acquire();
    expect(sem.available).toBe(0);
    const order: number[] = [];
    const w1 = sem.acquire().then((r) => (order.push(1), r));
    const w2 = sem.acquire().then((r) => (order.push(2), r));
    expect(sem.waiting).toBe(2);
    expect(await isSettled(w1)).toBe(false);
    r1();
    const release1 = await w1;
    expect(await isSettled(w2)).toBe(false);
    release1();
    await w2;
    expect(order).toEqual([1, 2]);
  });

  test("a released permit goes to the waiter, not to a later tryAcquire", async () => {
    const sem = new Semaphore(1);
    const release = sem.tryAcquire();
    expect(release).toBeDefined();
    const waiter = sem.acquire();
    release?.();
    expect(sem.tryAcquire()).toBeUndefined();
    (await waiter)();
    expect(sem.available).toBe(1);
  });

  test("releasing twice gives back only one permit", async () => {
    const sem = new Semaphore(1);
    const release = await sem.acquire();
    release();
    release();
    expect(sem.available).toBe(1);
  });

  test("an aborted waiter leaves the queue and rejects with the reason", async () => {
    const sem = new Semaphore(1);
    const release = await sem.acquire();
    const controller = new AbortController();
    const waiting = sem.acquire(controller.signal);
    controller.abort(new Error("stop"));
    await expect(waiting).rejects.toThrow("stop");
    expect(sem.waiting).toBe(0);
    release();
    expect(sem.available).toBe(1);
  });

  test("rejects a non-positive permit count", () => {
    expect(() => new Semaphore(0)).toThrow(RangeError);
  });
});
