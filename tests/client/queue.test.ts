/**
 * Producer/Consumer through dist/proxy and dist/queue on memstore: the client's queue module (idempotent
 * publish, batches, consume with ack/nack through the iterator's items, the max_in_flight bound, dead letters
 * and redrive, stats, resubscription) and prismctl's queue commands.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { connect, type PrismClient, type QueueDelivery } from "../../client/src/index";
import { waitFor } from "../helpers/wait";
import { requireBuilt } from "../proxy/harness";
import { type RunningProxy, startProxy, prismctlOn } from "./proxy";

let proxy: RunningProxy;
let client: PrismClient;
const run = crypto.randomUUID().slice(0, 8);
const decoder = new TextDecoder();
const text = (d: { payload: Uint8Array }) => decoder.decode(d.payload);

beforeAll(async () => {
  requireBuilt("prismctl", "proxy", "queue");
  proxy = await startProxy([{ name: "jobs", pattern: "queue", slots: { queue: { driver: "memstore" } }, config: { max_deliveries: 2, ack_deadline: "20s" } }]);
  client = await connect({ address: proxy.address, namespace: "jobs", deadline: 10_000 });
}, 90_000);
afterAll(async () => {
  client?.close();
  await proxy?.close();
});

/** Reads a consume iterator in the background into `got` until the signal aborts. */
function pump(items: AsyncIterable<QueueDelivery>): QueueDelivery[] {
  const got: QueueDelivery[] = [];
  (async () => {
    try {
      for await (const d of items) got.push(d);
    } catch {
      // aborted
    }
  })();
  return got;
}

/**
 * A topic keeps messages for the groups that exist when they are published. On memstore GetStats creates the
 * group, so a message published after this reaches it whenever the consumer's stream opens.
 */
async function groupExists(topic: string, group: string): Promise<void> {
  expect((await client.queue.stats(topic, group)).pending).toBe(0n);
}

const ctl = prismctlOn(() => proxy, "jobs");

describe("producer/consumer via @prism/client", () => {
  test("a publish sent again with its idempotency key is stored once; a batch is stored once per message", async () => {
    const topic = `idem-${run}`;
    const metadata = { "x-prism-idempotency-key": `k-${run}` };
    const a = await client.queue.publish(topic, "once", { metadata });
    const b = await client.queue.publish(topic, "once", { metadata });
    expect([a.duplicate, b.duplicate, b.messageId]).toEqual([false, true, a.messageId]);
    const batch = await client.queue.publishBatch(topic, ["b1", { payload: "b2", key: "k" }], { metadata: { "x-prism-idempotency-key": `b-${run}` } });
    const again = await client.queue.publishBatch(topic, ["b1", { payload: "b2", key: "k" }], { metadata: { "x-prism-idempotency-key": `b-${run}` } });
    expect(batch.results.map((r) => r.duplicate)).toEqual([false, false]);
    expect(again.results.map((r) => [r.messageId, r.duplicate])).toEqual(batch.results.map((r) => [r.messageId, true]));
  });

  test("consume: at most max_in_flight unacked per stream, ack through the item frees a place", async () => {
    const topic = `inflight-${run}`;
    const group = "workers";
    const ac = new AbortController();
    try {
      const a = pump(client.queue.consume(topic, group, { maxInFlight: 2, consumerId: "a", signal: ac.signal }));
      await groupExists(topic, group);
      for (let i = 0; i < 5; i++) await client.queue.publish(topic, `m${i}`);
      await waitFor(() => a.length === 2, "two deliveries to the bounded consumer");
      // The other three go to a second consumer of the group; the bounded one still holds two.
      const b = pump(client.queue.consume(topic, group, { maxInFlight: 10, consumerId: "b", signal: ac.signal }));
      await waitFor(() => b.length === 3, "the other three to the second consumer");
      expect(a.length).toBe(2);
      expect([...a, ...b].map(text).sort()).toEqual(["m0", "m1", "m2", "m3", "m4"]);
      for (const d of [...a, ...b]) expect(await d.ack()).toBe(true);
      expect(await a[0]!.ack()).toBe(false); // acking twice changes nothing
      await client.queue.publish(topic, "m5");
      await waitFor(() => a.length + b.length === 6, "the sixth delivered once places are free");
      await [...a, ...b].at(-1)!.ack();
      const s = await client.queue.stats(topic, group);
      expect([s.pending, s.inFlight, s.ackedTotal]).toEqual([0n, 0n, 6n]);
    } finally {
      ac.abort();
    }
  }, 30_000);

  test("a message nacked max_deliveries times is a dead letter; redrive delivers it again", async () => {
    const topic = `poison-${run}`;
    const group = "g";
    const ac = new AbortController();
    try {
      const got = pump(client.queue.consume(topic, group, { signal: ac.signal }));
      await groupExists(topic, group);
      const { messageId } = await client.queue.publish(topic, { payload: "poison", key: "p", headers: { kind: "bad" } });
      for (let attempt = 1; attempt <= 2; attempt++) {
        await waitFor(() => got.length === attempt, `delivery ${attempt}`);
        expect([got.at(-1)!.messageId, got.at(-1)!.deliveryAttempt, got.at(-1)!.headers.kind]).toEqual([messageId, attempt, "bad"]);
        expect(await got.at(-1)!.nack({ error: `failed ${attempt}` })).toBe(true);
      }
      const dead = await waitFor(async () => (await client.queue.deadLetters(topic, group)).messages, "the dead letter");
      expect(dead.map((m) => [m.messageId, text(m), m.deliveryAttempts, m.lastError])).toEqual([[messageId, "poison", 2, "failed 2"]]);
      expect((await client.queue.stats(topic, group)).deadLettered).toBe(1n);
      expect((await client.queue.redrive(topic, group, [messageId])).redriven).toBe(1);
      await waitFor(() => got.length === 3, "the redriven delivery");
      expect([got[2]!.messageId, text(got[2]!)]).toEqual([messageId, "poison"]);
      await got[2]!.ack();
      expect((await client.queue.deadLetters(topic, group)).messages).toEqual([]);
    } finally {
      ac.abort();
    }
  }, 30_000);

  test("capabilities of both halves; the connection counts no resubscription on a healthy stream", () => {
    expect(client.capabilities.queue?.consumer.slots?.queueBackendType).toBe("memstore");
    expect(client.queue.backend).toBe("memstore");
    expect(client.stats.resubscriptions).toBe(0);
  });
});

describe("prismctl queue", () => {
  test("publish, consume with ack, stats", async () => {
    const topic = `ctl-${run}`;
    // consume creates the group: start it first, stop after two.
    const consumer = ctl("--json", "queue", "consume", topic, "g", "--count", "2");
    await groupExists(topic, "g");
    const one = JSON.parse((await ctl("--json", "queue", "publish", topic, "hello", "--key", "k1", "--header", "a=1")).stdout);
    expect(one.length).toBe(1);
    const batch = await ctl("queue", "publish", topic, "world");
    expect(batch.code).toBe(0);
    const out = await consumer;
    expect(out.code).toBe(0);
    const lines = out.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines.map((l) => [l.payload, l.delivery_attempt])).toEqual([
      ["hello", 1],
      ["world", 1],
    ]);
    expect(lines[0].headers).toEqual({ a: "1" });
    const stats = await waitFor(async () => {
      const s = JSON.parse((await ctl("--json", "queue", "stats", topic, "g")).stdout);
      return s.acked_total === 2 ? s : undefined;
    }, "both acked");
    expect([stats.pending, stats.in_flight]).toEqual([0, 0]);
    expect((await ctl("queue", "stats", topic, "g")).stdout).toContain("acked_total       2\n");
  }, 60_000);

  test("consume --nack until dead-lettered, dead-letters, redrive; caps queue", async () => {
    const topic = `ctl-dlq-${run}`;
    const consumer = ctl("queue", "consume", topic, "g", "--nack", "--count", "2");
    await groupExists(topic, "g");
    const [{ message_id: id }] = JSON.parse((await ctl("--json", "queue", "publish", topic, "poison")).stdout);
    const out = await consumer;
    expect(out.stdout).toBe(`${id} (attempt 1): poison\n${id} (attempt 2): poison\n`);
    const dead = await waitFor(async () => JSON.parse((await ctl("--json", "queue", "dead-letters", topic, "g")).stdout), "the dead letter");
    expect(dead.map((m: { message_id: string; delivery_attempts: number; last_error: string }) => [m.message_id, m.delivery_attempts, m.last_error])).toEqual([
      [id, 2, "nacked by prismctl"],
    ]);
    expect((await ctl("queue", "dead-letters", topic, "g")).stdout).toMatch(/^MESSAGE +ATTEMPTS +DEAD SINCE +LAST ERROR +PAYLOAD\n/);
    expect((await ctl("queue", "redrive", topic, "g")).stdout).toBe("redriven 1\n");
    const again = await ctl("queue", "consume", topic, "g", "--count", "1");
    expect(again.stdout).toBe(`${id} (attempt 1): poison\n`);

    const caps = await ctl("caps", "queue");
    expect(caps.code).toBe(0);
    expect(caps.stdout).toStartWith("namespace jobs: producer/consumer, queue memstore\nOPERATION");
    expect(caps.stdout).toMatch(/\ndead letters \/ redrive +native/);
  }, 60_000);
});
