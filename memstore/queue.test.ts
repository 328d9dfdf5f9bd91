import { expect, test } from "bun:test";
import type { QueueDelivery } from "@prism/sdk";
import { MemQueue } from "./queue";

const bytes = (s: string) => new TextEncoder().encode(s);

/** Takes up to n deliveries available now from a fresh consume iterator, then closes it. */
async function take(q: MemQueue, group: string, n: number, ackDeadlineMs = 30_000): Promise<QueueDelivery[]> {
  const ac = new AbortController();
  const out: QueueDelivery[] = [];
  const it = q.queueConsume({ topic: "t", group, consumerId: "c", ackDeadlineMs, room: () => n - out.length, signal: ac.signal })[Symbol.asyncIterator]();
  const timer = setTimeout(() => ac.abort(), 300);
  while (out.length < n) {
    const r = await it.next();
    if (r.done) break;
    out.push(r.value);
  }
  clearTimeout(timer);
  ac.abort();
  await it.return?.();
  return out;
}

test("every group gets every message; a group's consumers do not get a message in flight", async () => {
  const q = new MemQueue();
  await q.queuePublish(
    "t",
    [1, 2, 3].map((i) => ({ key: "", payload: bytes(String(i)), headers: {} })),
  );
  const a1 = await take(q, "a", 2);
  const a2 = await take(q, "a", 5);
  const b = await take(q, "b", 5);
  expect(a1.map((d) => d.messageId)).toEqual(["1", "2"]);
  expect(a2.map((d) => d.messageId)).toEqual(["3"]);
  expect(b.map((d) => d.messageId)).toEqual(["1", "2", "3"]);
});

test("a nacked delivery comes back with its attempt counted and its error; an ack removes it; stale tokens are unknown", async () => {
  const q = new MemQueue();
  await q.queuePublish("t", [{ key: "", payload: bytes("x"), headers: {} }]);
  const [first] = await take(q, "g", 1);
  expect(await q.queueNack("t", "g", first!.token, 0, "boom")).toBe(true);
  expect(await q.queueNack("t", "g", first!.token, 0, "again")).toBe(false);
  const [second] = await take(q, "g", 1);
  expect(second).toMatchObject({ messageId: first!.messageId, attempt: 2, lastError: "boom" });
  expect(await q.queueAck("t", "g", [second!.token, "nope", "9.9"])).toEqual([true, false, false]);
  expect(await q.queueAck("t", "g", [second!.token])).toEqual([false]);
  expect(await q.queueStats("t", "g")).toMatchObject({ pending: 0, inFlight: 0 });
});

test("a delivery past its ack deadline is delivered again", async () => {
  let now = 1_000;
  const q = new MemQueue(1000, () => now);
  await q.queuePublish("t", [{ key: "", payload: bytes("x"), headers: {} }]);
  expect((await take(q, "g", 1, 500)).length).toBe(1);
  expect(await take(q, "g", 1, 500)).toEqual([]);
  now += 501;
  expect((await take(q, "g", 1, 500))[0]?.attempt).toBe(2);
});

test("per key: the next message of a key waits until the earlier one is acked", async () => {
  const q = new MemQueue();
  await q.queuePublish(
    "t",
    ["k", "k", "j"].map((key, i) => ({ key, payload: bytes(String(i)), headers: {} })),
  );
  const first = await take(q, "g", 5);
  expect(first.map((d) => [d.key, d.messageId])).toEqual([
    ["k", "1"],
    ["j", "3"],
  ]);
  await q.queueNack("t", "g", first[0]!.token, 0, "");
  const again = await take(q, "g", 5);
  expect(again.map((d) => d.messageId)).toEqual(["1"]);
  await q.queueAck("t", "g", [again[0]!.token]);
  expect((await take(q, "g", 5)).map((d) => d.messageId)).toEqual(["2"]);
});

test("dead letters: listed in pages, counted, redriven with a fresh attempt count to the group only", async () => {
  const q = new MemQueue();
  await q.queuePublish("t", [{ key: "", payload: bytes("p"), headers: { h: "1" } }]);
  await take(q, "other", 1);
  const [d] = await take(q, "g", 1);
  await q.queueDeadLetter("t", "g", { ...d!, attempt: 6 }, "bad");
  expect(await q.queueDeadLetterCount("t", "g")).toBe(1);
  const page = await q.queueDeadLetters("t", "g", 10, "");
  expect(page.entries[0]).toMatchObject({ messageId: d!.messageId, attempts: 5, lastError: "bad", headers: { h: "1" } });
  expect(await q.queueRedrive("t", "g", [])).toBe(1);
  expect(await q.queueDeadLetterCount("t", "g")).toBe(0);
  expect((await take(q, "g", 1))[0]).toMatchObject({ messageId: d!.messageId, attempt: 1 });
  expect(await take(q, "other", 1)).toEqual([]);
});

test("publish beyond the bound is RESOURCE_EXHAUSTED naming it", async () => {
  const q = new MemQueue(2);
  await q.queuePublish("t", [{ key: "", payload: bytes("1"), headers: {} }]);
  await expect(
    q.queuePublish(
      "t",
      [1, 2].map(() => ({ key: "", payload: bytes("x"), headers: {} })),
    ),
  ).rejects.toThrow("max 2");
});
