import { describe, expect, test } from "bun:test";
import { Code, PrismError } from "../errors";
import { deferred, flush, isSettled } from "./test_support";
import { WorkerPool } from "./worker_pool";

describe("WorkerPool", () => {
  test("runs tasks with at most `workers` in flight and hands back each result", async () => {
    const pool = new WorkerPool({ workers: 3, queueSize: 20 });
    let running = 0;
    let peak = 0;
    const handles = [];
    for (let i = 0; i < 10; i++) {
      handles.push(
        await pool.submit(async () => {
          running++;
          peak = Math.max(peak, running);
          await flush(1);
          running--;
          return i * 10;
        }),
      );
    }
    const results = await Promise.all(handles.map((h) => h.result));
    expect(results).toEqual([0, 10, 20, 30, 40, 50, 60, 70, 80, 90]);
    expect(peak).toBe(3);
    await pool.close();
  });

  test("submit blocks while the queue is full (back-pressure) and resumes when a worker frees up", async () => {
    const pool = new WorkerPool({ workers: 1, queueSize: 1 });
    const gate = deferred();
    const first = await pool.submit(() => gate.promise); // taken by the worker
    await flush();
    expect(pool.active).toBe(1);
    const second = await pool.submit(async () => "second"); // fills the queue
    expect(pool.queued).toBe(1);
    const third = pool.submit(async () => "third");
    expect(await isSettled(third)).toBe(false);

    gate.resolve();
    await first.result;
    const handle = await third;
    expect(await second.result).toBe("second");
    expect(await handle.result).toBe("third");
    await pool.close();
  });

  test("a blocked submit can be aborted", async () => {
    const pool = new WorkerPool({ workers: 1, queueSize: 1 });
    const gate = deferred();
    await pool.submit(() => gate.promise);
    await flush();
    await pool.submit(async () => undefined);
    const controller = new AbortController();
    const blocked = pool.submit(async () => undefined, controller.signal);
    controller.abort(new Error("caller gave up"));
    await expect(blocked).rejects.toThrow("caller gave up");
    gate.resolve();
    await pool.close();
  });

  test("a failing task rejects its own result only; the pool keeps working", async () => {
    const pool = new WorkerPool({ workers: 1 });
    const bad = await pool.submit(() => Promise.reject(new Error("boom")));
    const good = await pool.submit(async () => "fine");
    await expect(bad.result).rejects.toThrow("boom");
    expect(await good.result).toBe("fine");
    await pool.close();
  });

  test("close() drains queued and running tasks, then refuses new ones with UNAVAILABLE", async () => {
    const pool = new WorkerPool({ workers: 2, queueSize: 10 });
    const done: number[] = [];
    for (let i = 0; i < 6; i++) {
      await pool.submit(async () => {
        await flush(1);
        done.push(i);
      });
    }
    await pool.close();
    expect(done.sort()).toEqual([0, 1, 2, 3, 4, 5]);
    expect(pool.active).toBe(0);
    const err = await pool.submit(async () => undefined).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PrismError);
    expect((err as PrismError).code).toBe(Code.UNAVAILABLE);
  });

  test("aborting the pool signal cancels running tasks and rejects queued ones without running them", async () => {
    const controller = new AbortController();
    const pool = new WorkerPool({ workers: 1, queueSize: 5, signal: controller.signal });
    let runningSignal: AbortSignal | undefined;
    const running = await pool.submit(
      (signal) =>
        new Promise<never>((_, reject) => {
          runningSignal = signal;
          signal.addEventListener("abort", () => reject(signal.reason));
        }),
    );
    let queuedRan = false;
    const queued = await pool.submit(async () => {
      queuedRan = true;
    });
    await flush();
    const reason = new Error("shutdown");
    controller.abort(reason);
    await expect(running.result).rejects.toBe(reason);
    await expect(queued.result).rejects.toBe(reason);
    expect(runningSignal?.aborted).toBe(true);
    expect(queuedRan).toBe(false);
    await expect(pool.submit(async () => undefined)).rejects.toBe(reason);
    await pool.close();
  });
});
