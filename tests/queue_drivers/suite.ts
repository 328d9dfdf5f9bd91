/**
 * Checks of a QueueDriver at the driver level, against a real backend (the pattern-level conformance suite is
 * tests/queue/): what the SDK relies on — competing consumers and groups, redelivery after a nack's delay and after
 * an ack deadline with the attempt counted, tokens settled by another driver instance, idempotent publish, the
 * room() bound, stats. One call per backend: `queueDriverSuite("nats", make)`.
 */
import { afterAll, beforeAll, describe, expect, test as bunTest } from "bun:test";
import { type Driver, offersQueueDeadLetters, type QueueDeadLetterDriver, type QueueDelivery, type QueueDriver, REDRIVE_GROUP_HEADER } from "../../sdk";
import { waitFor } from "../helpers/wait";
import { startConsumer, type TestConsumer } from "./consumer";

export type TestQueueDriver = QueueDriver & Driver;

export interface QueueDriverTarget {
  /** A new driver instance on the backend (each test run's topics are unique, so instances may share a namespace). */
  make(): Promise<TestQueueDriver>;
  /** Bound on waits for deliveries (group joins on Kafka take a while). */
  waitMs: number;
  /**
   * True when a token handed out by one driver instance is settled by another (the interface asks for it);
   * false for a driver that settles only its own (Kafka: the instance whose group member owns the partition).
   */
  tokensAcrossInstances: boolean;
  /** Removes what this run left on the backend (topics named with RUN). */
  cleanup(): Promise<void>;
}

const text = (s: string) => new TextEncoder().encode(s);
const str = (b: Uint8Array) => new TextDecoder().decode(b);
/** In every topic name of this run (a target's cleanup finds them by it). */
export const RUN = `r${Date.now().toString(36)}`;
let seq = 0;
const unique = (what: string) => `${what}-${RUN}-${++seq}`;

async function publishN(d: QueueDriver, topic: string, n: number, key = (i: number) => `k${i % 4}`): Promise<string[]> {
  const msgs = Array.from({ length: n }, (_, i) => ({ key: key(i), payload: text(`m${i}`), headers: { i: String(i) } }));
  const res = await d.queuePublish(topic, msgs);
  return res.map((r) => r.messageId);
}

export function queueDriverSuite(name: string, target: QueueDriverTarget): void {
  describe(`queue driver: ${name}`, () => {
    const test = (title: string, fn: () => Promise<void>) => bunTest(title, fn, target.waitMs * 2);
    let d: TestQueueDriver;
    const consumers: TestConsumer[] = [];
    const consume = (o: Parameters<typeof startConsumer>[1]) => {
      const c = startConsumer(d, o);
      consumers.push(c);
      return c;
    };
    const wait = <T>(check: () => T, what: string) => waitFor(check, what, { timeoutMs: target.waitMs });

    beforeAll(async () => {
      d = await target.make();
    });
    afterAll(async () => {
      await Promise.all(consumers.map((c) => c.close(false)));
      await d?.close();
      await target.cleanup();
    });

    test("publish then consume: every message once, with key, headers, time and attempt 1; acked messages leave the group", async () => {
      const topic = unique("basic");
      const before = Date.now();
      const ids = await publishN(d, topic, 20);
      expect(new Set(ids).size).toBe(20);
      const c = consume({ topic, group: "g", autoAck: true });
      await wait(() => c.received.length >= 20, "20 deliveries");
      expect(c.received.map((r) => str(r.payload)).sort()).toEqual(Array.from({ length: 20 }, (_, i) => `m${i}`).sort());
      const m3 = c.received.find((r) => str(r.payload) === "m3")!;
      expect(m3.key).toBe("k3");
      expect(m3.headers.i).toBe("3");
      expect(m3.attempt).toBe(1);
      expect(m3.messageId).toBe(ids[3]!);
      expect(m3.publishedAt).toBeGreaterThanOrEqual(before - 1_000);
      expect(m3.publishedAt).toBeLessThanOrEqual(Date.now() + 1_000);
      expect(c.failure).toBeUndefined();
      await wait(async () => {
        const s = await d.queueStats(topic, "g");
        return s.pending === 0 && s.inFlight === 0;
      }, "stats at 0 after every ack");
    });

    test("two groups each get every message; two consumers of one group split them", async () => {
      const topic = unique("groups");
      const a1 = consume({ topic, group: "a", autoAck: true });
      const a2 = consume({ topic, group: "a", autoAck: true });
      const b = consume({ topic, group: "b", autoAck: true });
      await publishN(d, topic, 60);
      await wait(() => a1.received.length + a2.received.length >= 60 && b.received.length >= 60, "60 deliveries per group");
      const inA = [...a1.received, ...a2.received].map((r) => r.messageId);
      expect(new Set(inA).size).toBe(60);
      expect(new Set(b.received.map((r) => r.messageId)).size).toBe(60);
    });

    test("a consumer never holds more than its room; acks make room", async () => {
      const topic = unique("room");
      await publishN(d, topic, 10);
      const c = consume({ topic, group: "g", maxInFlight: 3 });
      await wait(() => c.received.length >= 3, "3 deliveries");
      // Given time, it takes nothing more while it holds 3.
      await Bun.sleep(300);
      expect(c.received.length).toBe(3);
      await c.ack(...c.received.slice(0, 3));
      await wait(() => c.received.length >= 6, "3 more after the acks");
      expect(c.held.size).toBeLessThanOrEqual(3);
    });

    test("a nack redelivers after its delay with the attempt counted and the error kept", async () => {
      const topic = unique("nack");
      await publishN(d, topic, 1);
      const c = consume({ topic, group: "g" });
      await wait(() => c.received.length >= 1, "first delivery");
      const first = c.received[0]!;
      const nackedAt = Date.now();
      expect(await c.nack(first, 400, "boom")).toBe(true);
      await wait(() => c.received.length >= 2, "redelivery");
      const again = c.received[1]!;
      expect(Date.now() - nackedAt).toBeGreaterThanOrEqual(350);
      expect(again.messageId).toBe(first.messageId);
      expect(again.attempt).toBe(2);
      expect(again.lastError).toBe("boom");
      await c.ack(again);
    });

    test("a delivery not acked within its deadline is delivered again, to another consumer too", async () => {
      const topic = unique("deadline");
      await publishN(d, topic, 1);
      const c1 = consume({ topic, group: "g", ackDeadlineMs: 600 });
      await wait(() => c1.received.length >= 1, "first delivery");
      const c2 = consume({ topic, group: "g", ackDeadlineMs: 600 });
      await wait(() => c1.received.length + c2.received.length >= 2, "redelivery after the deadline");
      const all = [...c1.received, ...c2.received];
      expect(all.map((r) => r.messageId)).toEqual([all[0]!.messageId, all[0]!.messageId]);
      expect(Math.max(...all.map((r) => r.attempt))).toBe(2);
      const last = all.find((r) => r.attempt === 2)!;
      const owner = c1.received.includes(last) ? c1 : c2;
      expect(await owner.ack(last)).toEqual([true]);
    });

    test("a consumer's released deliveries go to the group's other consumer at once", async () => {
      const topic = unique("release");
      // Keys of their own: none waits behind another of its key (per-key ordering).
      await publishN(d, topic, 5, (i) => `u${i}`);
      const c1 = consume({ topic, group: "g", ackDeadlineMs: 60_000 });
      await wait(() => c1.received.length >= 5, "5 deliveries to the first consumer");
      const c2 = consume({ topic, group: "g", ackDeadlineMs: 60_000, autoAck: true });
      await c1.close();
      await wait(() => c2.received.length >= 5, "the 5 released deliveries");
      expect(new Set(c2.received.map((r) => r.messageId))).toEqual(new Set(c1.received.map((r) => r.messageId)));
      expect(c2.received.every((r) => r.attempt === 2)).toBe(true);
    });

    test("tokens: another driver instance settles them; a second ack, another group's or a malformed token is unknown", async () => {
      const topic = unique("tokens");
      await publishN(d, topic, 3);
      const c = consume({ topic, group: "g" });
      await wait(() => c.received.length >= 3, "3 deliveries");
      const [m0, m1, m2] = c.received as [QueueDelivery, QueueDelivery, QueueDelivery];
      const other = await target.make();
      try {
        if (target.tokensAcrossInstances) {
          expect(await other.queueAck(topic, "g", [m0.token, "nonsense", m1.token])).toEqual([true, false, true]);
        } else {
          expect(await other.queueAck(topic, "g", [m0.token, "nonsense", m1.token])).toEqual([false, false, false]);
          expect(await d.queueAck(topic, "g", [m0.token, "nonsense", m1.token])).toEqual([true, false, true]);
        }
        expect(await d.queueAck(topic, "other-group", [m2.token])).toEqual([false]);
        expect(await d.queueAck(`${topic}-x`, "g", [m2.token])).toEqual([false]);
        expect(await d.queueNack(topic, "g", "nonsense", 0, "")).toBe(false);
        expect(await d.queueAck(topic, "g", [m2.token])).toEqual([true]);
        expect(await d.queueAck(topic, "g", [m2.token])).toEqual([false]);
        expect(await d.queueNack(topic, "g", m2.token, 0, "")).toBe(false);
      } finally {
        await other.close();
      }
      for (const m of [m0, m1, m2]) c.held.delete(m.token);
      await wait(async () => (await d.queueStats(topic, "g")).inFlight === 0, "nothing in flight");
      await Bun.sleep(200);
      expect(c.received.length).toBe(3);
    });

    test("a publish repeated with its idempotency key within the window stores nothing new", async () => {
      const features = d.queueFeatures;
      if (features.dedupeWindowMs === undefined) return; // the SDK dedupes for this driver (tests/queue)
      const topic = unique("dedupe");
      const first = await d.queuePublish(topic, [{ key: "", payload: text("once"), headers: {}, idempotencyKey: "op-1" }]);
      const again = await d.queuePublish(topic, [
        { key: "", payload: text("once"), headers: {}, idempotencyKey: "op-1" },
        { key: "", payload: text("other"), headers: {}, idempotencyKey: "op-2" },
      ]);
      expect(first[0]!.duplicate).toBe(false);
      expect(again[0]).toEqual({ messageId: first[0]!.messageId, duplicate: true });
      expect(again[1]!.duplicate).toBe(false);
      const c = consume({ topic, group: "g", autoAck: true });
      await wait(() => c.received.length >= 2, "2 deliveries");
      await Bun.sleep(200);
      expect(c.received.map((r) => str(r.payload)).sort()).toEqual(["once", "other"]);
    });

    test("per-key order (drivers that offer it): a key's next message waits for the redelivery of the previous one", async () => {
      if (d.queueFeatures.ordering !== "per_key") return; // no promise to check
      const topic = unique("order");
      await publishN(d, topic, 6, (i) => (i % 2 === 0 ? "a" : "b"));
      const c = consume({ topic, group: "g" });
      await wait(() => c.received.length >= 2, "the first message of each key");
      await Bun.sleep(200);
      // m2 and m4 (key a) and m3, m5 (key b) wait behind m0 and m1.
      expect(c.received.map((r) => str(r.payload)).sort()).toEqual(["m0", "m1"]);
      const m0 = c.received.find((r) => str(r.payload) === "m0")!;
      const m1 = c.received.find((r) => str(r.payload) === "m1")!;
      await c.nack(m0, 300, "retry");
      await c.ack(m1);
      await wait(() => c.received.some((r) => str(r.payload) === "m3"), "key b's next message");
      expect(c.received.some((r) => str(r.payload) === "m2")).toBe(false);
      const order: string[] = [];
      while (order.length < 5) {
        await wait(() => c.held.size > 0, "a delivery");
        for (const r of [...c.held.values()]) {
          order.push(`${str(r.payload)}#${r.attempt}`);
          await c.ack(r);
        }
      }
      const ofKey = (k: string[]) => order.filter((o) => k.includes(o.split("#")[0]!));
      expect(ofKey(["m0", "m2", "m4"])).toEqual(["m0#2", "m2#1", "m4#1"]);
      expect(ofKey(["m3", "m5"])).toEqual(["m3#1", "m5#1"]);
    });

    test("dead letters (drivers that keep them): stored once with their fields, paged, counted, redriven to the group", async () => {
      if (!offersQueueDeadLetters(d)) return; // the SDK emulates them in a key-value slot (tests/queue)
      const dl = d as TestQueueDriver & QueueDeadLetterDriver;
      const topic = unique("dead");
      await d.queuePublish(topic, [
        { key: "ka", payload: text("poison-a"), headers: { h: "1" } },
        { key: "kb", payload: text("poison-b"), headers: {} },
      ]);
      const c = consume({ topic, group: "g" });
      await wait(() => c.received.length >= 2, "2 deliveries");
      const [a, b] = c.received as [QueueDelivery, QueueDelivery];
      const t0 = Date.now();
      await dl.queueDeadLetter(topic, "g", a, "bad\nthing");
      await dl.queueDeadLetter(topic, "g", a, "bad\nthing");
      await dl.queueDeadLetter(topic, "g", b, "");
      c.held.clear();
      expect(await dl.queueDeadLetterCount(topic, "g")).toBe(2);
      expect(await dl.queueDeadLetterCount(topic, "other")).toBe(0);
      expect(await d.queueAck(topic, "g", [a.token])).toEqual([false]);
      const p1 = await dl.queueDeadLetters(topic, "g", 1, "");
      expect(p1.entries.length).toBe(1);
      expect(p1.nextCursor).not.toBe("");
      const first = p1.entries[0]!;
      expect([first.messageId, first.key, str(first.payload), first.headers.h, first.lastError]).toEqual([a.messageId, "ka", "poison-a", "1", "bad\nthing"]);
      expect(first.attempts).toBe(a.attempt - 1);
      expect(first.deadLetteredAt).toBeGreaterThanOrEqual(t0 - 1_000);
      expect(first.publishedAt).toBe(a.publishedAt);
      const p2 = await dl.queueDeadLetters(topic, "g", 1, p1.nextCursor);
      expect(p2.entries.map((e) => e.messageId)).toEqual([b.messageId]);
      expect(p2.nextCursor).toBe("");
      expect(await dl.queueRedrive(topic, "g", [a.messageId])).toBe(1);
      expect(await dl.queueDeadLetterCount(topic, "g")).toBe(1);
      await wait(() => c.received.some((r) => str(r.payload) === "poison-a" && r !== a), "the redriven message");
      const back = c.received.find((r) => str(r.payload) === "poison-a" && r !== a)!;
      expect(back.attempt).toBe(1);
      expect(back.key).toBe("ka");
      expect(back.headers[REDRIVE_GROUP_HEADER]).toBe("g");
      await c.ack(back);
      expect(await dl.queueRedrive(topic, "g", [])).toBe(1);
      expect(await dl.queueDeadLetterCount(topic, "g")).toBe(0);
    });

    test("attempts survive a restart of the driver (a new instance counts on)", async () => {
      const topic = unique("attempts");
      await publishN(d, topic, 1);
      const first = await target.make();
      const c1 = startConsumer(first, { topic, group: "g" });
      try {
        await wait(() => c1.received.length >= 1, "first delivery");
        await c1.nack(c1.received[0]!, 0, "again");
        await wait(() => c1.received.length >= 2, "second delivery");
        expect(c1.received[1]!.attempt).toBe(2);
      } finally {
        // Stops like a pattern that shuts down with a delivery in flight (nothing released).
        await c1.close(false);
        await first.close();
      }
      const c2 = consume({ topic, group: "g", ackDeadlineMs: 1_000 });
      await wait(() => c2.received.length >= 1, "the delivery through a new driver instance");
      expect(c2.received[0]!.attempt).toBe(3);
      await c2.ack(c2.received[0]!);
    });

    test("a new group sees every message still retained, oldest first", async () => {
      const topic = unique("late");
      await publishN(d, topic, 5, () => "one-key");
      const c = consume({ topic, group: "late", autoAck: true, maxInFlight: 1 });
      await wait(() => c.received.length >= 5, "5 deliveries");
      expect(c.received.map((r) => str(r.payload))).toEqual(["m0", "m1", "m2", "m3", "m4"]);
      const s = await d.queueStats(topic, "fresh");
      expect(s.pending).toBe(5);
      expect(s.inFlight).toBe(0);
    });
  });
}
