import { describe, expect, test } from "bun:test";
import { AsyncQueue } from "./async_queue";
import { flush, isSettled } from "./test_support";

async function drain<T>(q: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const v of q) out.push(v);
  return out;
}

describe("AsyncQueue", () => {
  test("delivers in FIFO order and ends after close() once drained", async () => {
    const q = new AsyncQueue<number>({ capacity: 10 });
    await q.push(1);
    await q.push(2);
    q.offer(3);
    q.close();
    expect(await q.push(4)).toBe(false);
    expect(q.offer(5)).toBe(false);
    expect(await drain(q)).toEqual([1, 2, 3]);
    expect(await q.next()).toEqual({ done: true, value: undefined });
  });

  test("a waiting consumer receives a pushed item directly", async () => {
    const q = new AsyncQueue<string>({ capacity: 1 });
    const next = q.next();
    expect(await isSettled(next)).toBe(false);
    expect(await q.push("hello")).toBe(true);
    expect(await next).toEqual({ done: false, value: "hello" });
    expect(q.size).toBe(0);
  });

  test("block: a producer waits while full and resumes, in order, as the consumer takes", async () => {
    const q = new AsyncQueue<number>({ capacity: 2, overflow: "block" });
    expect(await q.push(1)).toBe(true);
    expect(await q.push(2)).toBe(true);
    const p3 = q.push(3);
    const p4 = q.push(4);
    expect(await isSettled(p3)).toBe(false);
    expect(q.size).toBe(2);

    expect(await q.next()).toEqual({ done: false, value: 1 });
    expect(await p3).toBe(true);
    expect(await isSettled(p4)).toBe(false);
    expect(await q.next()).toEqual({ done: false, value: 2 });
    expect(await p4).toBe(true);
    q.close();
    expect(await drain(q)).toEqual([3, 4]);
    expect(q.dropped).toBe(0);
  });

  test("block: offer() refuses instead of waiting when full, without counting a drop", () => {
    const q = new AsyncQueue<number>({ capacity: 1 });
    expect(q.offer(1)).toBe(true);
    expect(q.offer(2)).toBe(false);
    expect(q.dropped).toBe(0);
  });

  test("block: a waiting push can be aborted and its item is not enqueued", async () => {
    const q = new AsyncQueue<number>({ capacity: 1 });
    await q.push(1);
    const controller = new AbortController();
    const p = q.push(2, controller.signal);
    controller.abort(new Error("client gone"));
    await expect(p).rejects.toThrow("client gone");
    q.close();
    expect(await drain(q)).toEqual([1]);
  });

  test("block: close() refuses producers still waiting", async () => {
    const q = new AsyncQueue<number>({ capacity: 1 });
    await q.push(1);
    const waiting = q.push(2);
    q.close();
    expect(await waiting).toBe(false);
    expect(await drain(q)).toEqual([1]);
  });

  test("drop-oldest: evicts the oldest buffered item and counts it", async () => {
    const q = new AsyncQueue<number>({ capacity: 2, overflow: "drop-oldest" });
    expect(await q.push(1)).toBe(true);
    expect(await q.push(2)).toBe(true);
    expect(await q.push(3)).toBe(true);
    expect(q.offer(4)).toBe(true);
    expect(q.dropped).toBe(2);
    q.close();
    expect(await drain(q)).toEqual([3, 4]);
  });

  test("drop-newest: refuses the new item when full and counts it", async () => {
    const q = new AsyncQueue<number>({ capacity: 2, overflow: "drop-newest" });
    await q.push(1);
    await q.push(2);
    expect(await q.push(3)).toBe(false);
    expect(q.offer(4)).toBe(false);
    expect(q.dropped).toBe(2);
    q.close();
    expect(await drain(q)).toEqual([1, 2]);
  });

  test("fail(): buffered items are delivered, then the error is thrown to the consumer", async () => {
    const q = new AsyncQueue<number>({ capacity: 5 });
    await q.push(1);
    await q.push(2);
    const boom = new Error("connection lost");
    q.fail(boom);
    expect(await q.push(3)).toBe(false);
    const seen: number[] = [];
    const err = await (async () => {
      for await (const v of q) seen.push(v);
    })().catch((e: unknown) => e);
    expect(seen).toEqual([1, 2]);
    expect(err).toBe(boom);
  });

  test("fail(): a consumer already waiting is rejected", async () => {
    const q = new AsyncQueue<number>({ capacity: 5 });
    const next = q.next();
    q.fail(new Error("down"));
    await expect(next).rejects.toThrow("down");
  });

  test("consumer break runs onClose once, refuses blocked and later producers, and discards the rest", async () => {
    let closes = 0;
    const q = new AsyncQueue<number>({ capacity: 1, onClose: () => closes++ });
    await q.push(1);
    const admitted = q.push(2); // enters the buffer when 1 is taken
    const blocked = q.push(3); // still waiting at the break
    for await (const v of q) {
      expect(v).toBe(1);
      break;
    }
    expect(closes).toBe(1);
    expect(await admitted).toBe(true);
    expect(await blocked).toBe(false);
    expect(await q.push(4)).toBe(false);
    expect(q.closed).toBe(true);
    expect(q.size).toBe(0);
    expect(await q.next()).toEqual({ done: true, value: undefined });
    await q.return();
    expect(closes).toBe(1);
  });

  test("producer close() does not run onClose; draining to the end does not either", async () => {
    let closes = 0;
    const q = new AsyncQueue<number>({ capacity: 2, onClose: () => closes++ });
    await q.push(1);
    q.close();
    expect(await drain(q)).toEqual([1]);
    expect(closes).toBe(0);
  });

  test("abort signal ends the queue at once: waiting consumer rejects with the reason, onClose runs", async () => {
    const controller = new AbortController();
    let closes = 0;
    const q = new AsyncQueue<number>({ capacity: 2, signal: controller.signal, onClose: () => closes++ });
    const next = q.next();
    const reason = new Error("call cancelled");
    controller.abort(reason);
    await expect(next).rejects.toBe(reason);
    expect(closes).toBe(1);
    expect(await q.push(1)).toBe(false);
    await expect(q.next()).rejects.toBe(reason);
  });

  test("abort signal discards buffered items", async () => {
    const controller = new AbortController();
    const q = new AsyncQueue<number>({ capacity: 2, signal: controller.signal });
    await q.push(1);
    controller.abort();
    await expect(q.next()).rejects.toMatchObject({ name: "AbortError" });
  });

  test("several consumers waiting are served in arrival order", async () => {
    const q = new AsyncQueue<number>({ capacity: 1 });
    const a = q.next();
    const b = q.next();
    q.offer(1);
    q.offer(2);
    expect(await a).toEqual({ done: false, value: 1 });
    expect(await b).toEqual({ done: false, value: 2 });
    const c = q.next();
    q.close();
    expect(await c).toEqual({ done: true, value: undefined });
  });

  test("a producer loop is actually held back by a slow consumer", async () => {
    const q = new AsyncQueue<number>({ capacity: 3 });
    let produced = 0;
    const producer = (async () => {
      for (let i = 0; i < 100; i++) {
        if (!(await q.push(i))) return;
        produced++;
      }
      q.close();
    })();
    await flush();
    expect(produced).toBe(3);
    await q.next();
    await flush();
    expect(produced).toBe(4);
    const rest = await drain(q);
    await producer;
    expect(rest.length).toBe(99);
    expect(rest[0]).toBe(1);
  });

  test("rejects a capacity below 1", () => {
    expect(() => new AsyncQueue<number>({ capacity: 0 })).toThrow(RangeError);
  });
});
