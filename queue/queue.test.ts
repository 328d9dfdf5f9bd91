import { expect, test } from "bun:test";
import { createLogger, EmulatedDeadLetters, type QueueDriver, type Driver } from "@prism/sdk";
import { MemStore } from "../memstore/memstore";
import { MemQueue } from "../memstore/queue";
import { type ClientDelivery, QueuePattern, type QueueSettings } from "./queue";

const logger = createLogger({ level: "error", write: () => {} });
const bytes = (s: string) => new TextEncoder().encode(s);
const settings: QueueSettings = {
  maxDeliveries: 2,
  ackDeadlineMs: 30_000,
  defaultMaxInFlight: 10,
  maxInFlightLimit: 100,
  maxMessageSize: 1024,
  maxBatchSize: 10,
  dedupeWindowMs: 60_000,
};

/** A queue driver without dead letters of its own (memstore's queue, its native dead letters hidden). */
function plainDriver(): QueueDriver & Driver {
  const q = new MemQueue();
  return {
    name: "plain",
    version: "0",
    health: () => ({ status: "healthy" }),
    close: async () => {},
    queueFeatures: q.queueFeatures,
    queuePublish: (t, m) => q.queuePublish(t, m),
    queueConsume: (o) => q.queueConsume(o),
    queueAck: (t, g, k) => q.queueAck(t, g, k),
    queueNack: (t, g, k, d, e) => q.queueNack(t, g, k, d, e),
    queueStats: (t, g) => q.queueStats(t, g),
  };
}

/** Deliveries available now to one consumer of the group (the stream is closed after a quiet moment). */
async function drain(p: QueuePattern, group: string, onEach: (d: ClientDelivery) => Promise<void>): Promise<ClientDelivery[]> {
  const ac = new AbortController();
  const out: ClientDelivery[] = [];
  let timer = setTimeout(() => ac.abort(), 300);
  for await (const d of p.consume({ topic: "t", group, consumerId: "", maxInFlight: 0, ackDeadlineMs: 0 }, ac.signal)) {
    out.push(d);
    await onEach(d);
    clearTimeout(timer);
    timer = setTimeout(() => ac.abort(), 300);
  }
  clearTimeout(timer);
  return out;
}

test("emulated dead letters: after max_deliveries the message is stored with its last error, redriven to its group only", async () => {
  const driver = plainDriver();
  const store = new MemStore();
  const p = new QueuePattern("0", driver, new EmulatedDeadLetters(driver, store), settings, logger);
  await p.publish("t", [{ key: "", payload: bytes("poison"), headers: { a: "b" }, idempotencyKey: "" }]);
  await drain(p, "other", async (d) => void (await p.ack("t", "other", [d.ackToken])));
  const seen = await drain(p, "g", async (d) => void (await p.nack("t", "g", d.ackToken, 0, `fail ${d.attempt}`)));
  expect(seen.map((d) => d.attempt)).toEqual([1, 2]);
  const page = await p.getDeadLetters("t", "g", 10, "");
  expect(page.entries).toHaveLength(1);
  expect(page.entries[0]).toMatchObject({ attempts: 2, lastError: "fail 2", headers: { a: "b" } });
  expect((await p.stats("t", "g")).deadLettered).toBe(1);

  expect(await p.redrive("t", "g", [])).toBe(1);
  const back = await drain(p, "g", async (d) => void (await p.ack("t", "g", [d.ackToken])));
  expect(back.map((d) => [new TextDecoder().decode(d.payload), d.attempt])).toEqual([["poison", 1]]);
  // The republished copy is acked unseen by the other group.
  expect(await drain(p, "other", async () => {})).toEqual([]);
  expect(await p.stats("t", "other")).toMatchObject({ pending: 0, inFlight: 0 });
  expect((await p.stats("t", "g")).deadLettered).toBe(0);
  await store.close();
});

test("a state slot keeps idempotency keys across pattern instances (a restart)", async () => {
  const driver = plainDriver();
  const state = new MemStore();
  const first = new QueuePattern("0", driver, undefined, settings, logger, state);
  const [a] = await first.publish("t", [{ key: "", payload: bytes("x"), headers: {}, idempotencyKey: "k" }]);
  const second = new QueuePattern("0", driver, undefined, settings, logger, state);
  const [b] = await second.publish("t", [{ key: "", payload: bytes("x"), headers: {}, idempotencyKey: "k" }]);
  expect(a!.duplicate).toBe(false);
  expect(b).toEqual({ messageId: a!.messageId, duplicate: true });
  expect((await second.stats("t", "g")).pending).toBe(1);
  await state.close();
});

test("without dead letters, the dead-letter calls are UNIMPLEMENTED and max_deliveries is not enforced", async () => {
  const p = new QueuePattern("0", plainDriver(), undefined, settings, logger);
  await expect(p.getDeadLetters("t", "g", 0, "")).rejects.toThrow("dead letters are unavailable");
  await p.publish("t", [{ key: "", payload: bytes("x"), headers: {}, idempotencyKey: "" }]);
  let n = 0;
  await drain(p, "g", async (d) => {
    if (++n < 4) await p.nack("t", "g", d.ackToken, 0, "again");
    else await p.ack("t", "g", [d.ackToken]);
  });
  expect(n).toBe(4);
});
