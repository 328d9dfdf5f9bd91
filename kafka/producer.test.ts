import { describe, expect, test } from "bun:test";
import type { Kafka, RecordMetadata, TopicMessages } from "kafkajs";
import { Code, PrismError } from "../sdk/grpc/errors";
import { parseKafkaConfig } from "./config";
import { BatchingProducer } from "./producer";

/** A kafkajs stand-in whose sendBatch calls the test answers by hand. */
function fakeKafka() {
  const requests: { topicMessages: TopicMessages[]; resolve: (r: RecordMetadata[]) => void; reject: (e: unknown) => void }[] = [];
  let producers = 0;
  const kafka = {
    producer: () => {
      producers++;
      return {
        connect: async () => undefined,
        disconnect: async () => undefined,
        sendBatch: ({ topicMessages }: { topicMessages: TopicMessages[] }) =>
          new Promise<RecordMetadata[]>((resolve, reject) => requests.push({ topicMessages, resolve, reject })),
      };
    },
  } as unknown as Kafka;
  return { kafka, requests, producers: () => producers };
}

/** Acknowledges a request as the broker would: one base offset per topic-partition. */
function ack(topicMessages: TopicMessages[], base: (topic: string, partition: number) => number): RecordMetadata[] {
  const out: RecordMetadata[] = [];
  for (const tm of topicMessages) {
    for (const p of new Set(tm.messages.map((m) => m.partition!))) {
      out.push({ topicName: tm.topic, partition: p, errorCode: 0, baseOffset: String(base(tm.topic, p)), logAppendTime: "-1", logStartOffset: "0" });
    }
  }
  return out;
}

const cfg = parseKafkaConfig({ producer: { max_batch_messages: 100 } }, { configFile: "t" });
const bytes = (s: string) => new TextEncoder().encode(s);
const until = async (check: () => boolean) => {
  for (let i = 0; i < 200 && !check(); i++) await Bun.sleep(1);
  expect(check()).toBe(true);
};

describe("BatchingProducer", () => {
  test("sends that arrive while a request is in flight go out together in the next one", async () => {
    const f = fakeKafka();
    const p = new BatchingProducer(f.kafka, cfg);
    const first = p.send("t", 0, bytes("a"), {}, "");
    await until(() => f.requests.length === 1);
    const rest = [p.send("t", 0, bytes("b"), { h: "1" }, "k"), p.send("t", 1, bytes("c"), {}, ""), p.send("u", 0, bytes("d"), {}, "")];
    expect(f.requests.length).toBe(1);
    f.requests[0]!.resolve(ack(f.requests[0]!.topicMessages, () => 41));
    expect(await first).toMatchObject({ partition: 0, offset: 41 });
    await until(() => f.requests.length === 2);
    const second = f.requests[1]!.topicMessages;
    expect(second.map((tm) => [tm.topic, tm.messages.length])).toEqual([
      ["t", 2],
      ["u", 1],
    ]);
    expect(second[0]!.messages[0]!.headers).toEqual({ h: "1" });
    expect(String(second[0]!.messages[0]!.key)).toBe("k");
    f.requests[1]!.resolve(ack(second, (topic, partition) => (topic === "t" ? (partition === 0 ? 42 : 7) : 0)));
    const stored = await Promise.all(rest);
    expect(stored.map((s) => s.offset)).toEqual([42, 7, 0]);
    expect(stored[0]!.timestamp).toBeGreaterThan(Date.now() - 10_000);
  });

  test("records of one partition in one request get consecutive offsets in send order", async () => {
    const f = fakeKafka();
    const p = new BatchingProducer(f.kafka, cfg);
    const blocker = p.send("t", 0, bytes("x"), {}, "");
    await until(() => f.requests.length === 1);
    const sends = [0, 1, 2, 3].map((i) => p.send("t", 2, bytes(String(i)), {}, ""));
    f.requests[0]!.resolve(ack(f.requests[0]!.topicMessages, () => 0));
    await blocker;
    await until(() => f.requests.length === 2);
    f.requests[1]!.resolve(ack(f.requests[1]!.topicMessages, () => 100));
    expect((await Promise.all(sends)).map((s) => s.offset)).toEqual([100, 101, 102, 103]);
  });

  test("a failed request fails every send in it with UNAVAILABLE, and the next send uses a fresh producer", async () => {
    const f = fakeKafka();
    const p = new BatchingProducer(f.kafka, cfg);
    const a = p.send("t", 0, bytes("a"), {}, "");
    await until(() => f.requests.length === 1);
    f.requests[0]!.reject(Object.assign(new Error("Connection error: connect ECONNREFUSED"), { name: "KafkaJSConnectionError", retriable: true }));
    const err = await a.catch((e) => e);
    expect(err).toBeInstanceOf(PrismError);
    expect((err as PrismError).code).toBe(Code.UNAVAILABLE);
    const b = p.send("t", 0, bytes("b"), {}, "");
    await until(() => f.requests.length === 2);
    expect(f.producers()).toBe(2);
    f.requests[1]!.resolve(ack(f.requests[1]!.topicMessages, () => 5));
    expect((await b).offset).toBe(5);
  });

  test("batches are bounded in bytes; a record larger than the bound goes alone", async () => {
    const f = fakeKafka();
    const small = parseKafkaConfig({ producer: { max_batch_bytes: 1000 } }, { configFile: "t" });
    const p = new BatchingProducer(f.kafka, small);
    const blocker = p.send("t", 0, bytes("x"), {}, "");
    await until(() => f.requests.length === 1);
    const sends = [p.send("t", 0, new Uint8Array(600), {}, ""), p.send("t", 0, new Uint8Array(600), {}, ""), p.send("t", 0, new Uint8Array(5000), {}, "")];
    f.requests[0]!.resolve(ack(f.requests[0]!.topicMessages, () => 0));
    await blocker;
    for (let i = 1; i <= 3; i++) {
      await until(() => f.requests.length === i + 1);
      expect(f.requests[i]!.topicMessages[0]!.messages.length).toBe(1);
      f.requests[i]!.resolve(ack(f.requests[i]!.topicMessages, () => i));
    }
    await Promise.all(sends);
  });

  test("one record the broker refuses fails only its own send: the others of its request are sent again alone", async () => {
    const f = fakeKafka();
    const p = new BatchingProducer(f.kafka, cfg);
    const blocker = p.send("t", 0, bytes("x"), {}, "");
    await until(() => f.requests.length === 1);
    const good = [p.send("t", 0, bytes("ok-1"), {}, ""), p.send("u", 1, bytes("ok-2"), {}, "")];
    const bad = p.send("big", 0, new Uint8Array(100), {}, "").catch((e: unknown) => e);
    const good2 = p.send("t", 0, bytes("ok-3"), {}, "");
    f.requests[0]!.resolve(ack(f.requests[0]!.topicMessages, () => 0));
    await blocker;
    await until(() => f.requests.length === 2);
    expect(f.requests[1]!.topicMessages.map((tm) => tm.topic)).toEqual(["t", "u", "big"]);
    // kafkajs fails the whole request with the first partition error it finds.
    f.requests[1]!.reject(
      Object.assign(new Error("The request included a message larger than the max message size the server will accept"), {
        name: "KafkaJSProtocolError",
        type: "MESSAGE_TOO_LARGE",
        retriable: false,
      }),
    );
    // Each record again, alone and in send order, on a fresh producer (the failed request spanned partitions).
    const offsets = [10, 20, 0, 11];
    for (let i = 0; i < 4; i++) {
      await until(() => f.requests.length === i + 3);
      const req = f.requests[i + 2]!;
      expect(req.topicMessages.flatMap((tm) => tm.messages).length).toBe(1);
      if (req.topicMessages[0]!.topic === "big")
        req.reject(Object.assign(new Error("message too large"), { name: "KafkaJSProtocolError", type: "MESSAGE_TOO_LARGE", retriable: false }));
      else req.resolve(ack(req.topicMessages, () => offsets[i]!));
    }
    expect(f.producers()).toBe(2);
    expect((await Promise.all([...good, good2])).map((s) => s.offset)).toEqual([10, 20, 11]);
    expect(((await bad) as PrismError).code).toBe(Code.INVALID_ARGUMENT);
  });

  test("batch bounds count UTF-8 bytes of keys and headers, not UTF-16 units", async () => {
    const f = fakeKafka();
    const small = parseKafkaConfig({ producer: { max_batch_bytes: 1000 } }, { configFile: "t" });
    const p = new BatchingProducer(f.kafka, small);
    const blocker = p.send("t", 0, bytes("x"), {}, "");
    await until(() => f.requests.length === 1);
    // 300 characters, 600 bytes each: two of them do not fit in 1000 bytes.
    const sends = [p.send("t", 0, bytes(""), { h: "é".repeat(300) }, ""), p.send("t", 0, bytes(""), {}, "ключ".repeat(75))];
    f.requests[0]!.resolve(ack(f.requests[0]!.topicMessages, () => 0));
    await blocker;
    for (let i = 1; i <= 2; i++) {
      await until(() => f.requests.length === i + 1);
      expect(f.requests[i]!.topicMessages[0]!.messages.length).toBe(1);
      f.requests[i]!.resolve(ack(f.requests[i]!.topicMessages, () => i));
    }
    await Promise.all(sends);
  });

  test("partitions follow the key (Java-compatible murmur2) and spread without one", () => {
    const p = new BatchingProducer(fakeKafka().kafka, cfg);
    const a = p.partitionFor("t", 3, "user-42");
    for (let i = 0; i < 10; i++) expect(p.partitionFor("t", 3, "user-42")).toBe(a);
    const keyless = new Set(Array.from({ length: 30 }, () => p.partitionFor("t", 3, "")));
    expect(keyless.size).toBe(3);
  });

  test("a request waits producer.linger from its oldest record and takes what arrives meanwhile", async () => {
    const f = fakeKafka();
    const p = new BatchingProducer(f.kafka, parseKafkaConfig({ producer: { linger: "60ms" } }, { configFile: "t" }));
    const t0 = performance.now();
    const a = p.send("t", 0, bytes("a"), {}, "");
    await Bun.sleep(10);
    const b = p.send("t", 0, bytes("b"), {}, "");
    expect(f.requests.length).toBe(0);
    await until(() => f.requests.length === 1);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(59);
    expect(f.requests[0]!.topicMessages[0]!.messages.map((m) => String(m.value))).toEqual(["a", "b"]);
    f.requests[0]!.resolve(ack(f.requests[0]!.topicMessages, () => 3));
    expect((await Promise.all([a, b])).map((s) => s.offset)).toEqual([3, 4]);
  });

  test("a full batch goes at once, without waiting out the linger; close ends a linger", async () => {
    const f = fakeKafka();
    const p = new BatchingProducer(f.kafka, parseKafkaConfig({ producer: { max_batch_messages: 3, linger: "10s" } }, { configFile: "t" }));
    const full = [0, 1, 2].map((i) => p.send("t", 0, bytes(String(i)), {}, ""));
    await until(() => f.requests.length === 1);
    expect(f.requests[0]!.topicMessages[0]!.messages.length).toBe(3);
    f.requests[0]!.resolve(ack(f.requests[0]!.topicMessages, () => 0));
    await Promise.all(full);
    // Full in bytes as well: a second record over max_batch_bytes ends the first one's linger; the second, alone
    // in the next batch, lingers in turn, and close fails it without sending it.
    const bytesBound = new BatchingProducer(f.kafka, parseKafkaConfig({ producer: { max_batch_bytes: 1000, linger: "10s" } }, { configFile: "t" }));
    const first = bytesBound.send("t", 0, new Uint8Array(600), {}, "");
    const second = bytesBound.send("t", 0, new Uint8Array(600), {}, "");
    await until(() => f.requests.length === 2);
    expect(f.requests[1]!.topicMessages[0]!.messages.length).toBe(1);
    f.requests[1]!.resolve(ack(f.requests[1]!.topicMessages, () => 0));
    expect((await first).offset).toBe(0);
    await Bun.sleep(30);
    expect(f.requests.length).toBe(2);
    await bytesBound.close();
    expect(((await second.catch((e) => e)) as PrismError).code).toBe(Code.UNAVAILABLE);
    await Bun.sleep(10);
    expect(f.requests.length).toBe(2);
  });

  test("a record that waited out the linger behind the request in flight goes as soon as that one is answered", async () => {
    const f = fakeKafka();
    const p = new BatchingProducer(f.kafka, parseKafkaConfig({ producer: { linger: "300ms" } }, { configFile: "t" }));
    const a = p.send("t", 0, bytes("a"), {}, "");
    for (let i = 0; i < 1000 && f.requests.length === 0; i++) await Bun.sleep(1);
    const b = p.send("t", 0, bytes("b"), {}, "");
    await Bun.sleep(320);
    const answered = performance.now();
    f.requests[0]!.resolve(ack(f.requests[0]!.topicMessages, () => 0));
    await until(() => f.requests.length === 2);
    expect(performance.now() - answered).toBeLessThan(150);
    f.requests[1]!.resolve(ack(f.requests[1]!.topicMessages, () => 1));
    expect((await Promise.all([a, b])).map((s) => s.offset)).toEqual([0, 1]);
  });

  test("linger 0 sends the first record without waiting for a timer", async () => {
    const f = fakeKafka();
    const p = new BatchingProducer(f.kafka, parseKafkaConfig({ producer: { linger: "0s" } }, { configFile: "t" }));
    const a = p.send("t", 0, bytes("a"), {}, "");
    await Bun.sleep(0);
    expect(f.requests.length).toBe(1);
    f.requests[0]!.resolve(ack(f.requests[0]!.topicMessages, () => 9));
    expect((await a).offset).toBe(9);
  });

  test("close fails what is still queued with UNAVAILABLE", async () => {
    const f = fakeKafka();
    const p = new BatchingProducer(f.kafka, cfg);
    void p.send("t", 0, bytes("in flight"), {}, "").catch(() => undefined);
    await until(() => f.requests.length === 1);
    const queued = p.send("t", 0, bytes("queued"), {}, "");
    await p.close();
    expect(((await queued.catch((e) => e)) as PrismError).code).toBe(Code.UNAVAILABLE);
  });
});
