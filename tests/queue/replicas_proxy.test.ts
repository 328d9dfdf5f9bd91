/**
 * Producer/Consumer behind one proxy with `replicas: 2` (issue 24 items 1 and 3): a consumer's Acks travel on the
 * same client connection as its Consume stream, and the proxy sends them to the instance that runs the stream — the
 * only one that frees the stream's in-flight places. Spread by least calls in flight instead, an Ack settled on the
 * other instance left the stream stalled at max_in_flight until the ack deadline.
 */
import { afterAll, expect, test } from "bun:test";
import { ConsumerPattern } from "../../proto/gen/prism/patterns/consumer/consumer_pattern_pb";
import { ProducerPattern } from "../../proto/gen/prism/patterns/producer/producer_pattern_pb";
import { createClient } from "../../sdk/grpc/client";
import { proxyTarget } from "../helpers/proxy_target";
import { requireService } from "../helpers/services";
import { waitFor } from "../helpers/wait";
import { requireBuilt } from "../proxy/harness";
import { redis } from "./backends";
import { uniqueNamespace } from "./targets";

const MESSAGES = 200;
const closers: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of closers.reverse()) await c().catch(() => undefined);
}, 60_000);

test("a consumer acking through the proxy keeps receiving: every message acked long before the ack deadline", async () => {
  requireBuilt("queue");
  requireBuilt("proxy");
  await requireService("redis");
  const ns = uniqueNamespace("replicas-proxy");
  const { slots, cleanup } = await redis.slots(ns);
  closers.push(cleanup);
  const t = await proxyTarget("queue", ns, { ack_deadline: "60s" }, undefined, slots, { replicas: 2 });
  closers.push(t.close);
  const metadata = t.metadata;
  const producer = createClient(ProducerPattern, t.address);
  const consumer = createClient(ConsumerPattern, t.address);
  closers.push(async () => {
    producer.close();
    consumer.close();
  });
  const opts = { timeoutMs: 20_000, metadata };
  const topic = `replicas-${Date.now().toString(36)}`;
  const group = "workers";
  await consumer.client.getStats({ topic, group }, opts);
  const acked = new Set<string>();
  const errors: string[] = [];
  const stream = new AbortController();
  const loop = (async () => {
    try {
      for await (const d of consumer.client.consume({ topic, group, maxInFlight: 5 }, { signal: stream.signal, metadata, timeoutMs: 0 })) {
        const r = await consumer.client.ack({ topic, group, ackTokens: [d.ackToken] }, opts);
        if (r.unknownTokens.length > 0) errors.push(`${d.messageId}: token unknown`);
        else acked.add(d.messageId);
      }
    } catch (err) {
      if (!stream.signal.aborted) errors.push((err as Error).message);
    }
  })();
  try {
    const enc = new TextEncoder();
    const r = await producer.client.publishBatch({ messages: Array.from({ length: MESSAGES }, (_, i) => ({ topic, payload: enc.encode(String(i)) })) }, opts);
    expect(r.results.length).toBe(MESSAGES);
    // Well under the 60 s ack deadline: a stall at max_in_flight would hold the stream until then.
    await waitFor(() => acked.size >= MESSAGES || errors.length > 0, `${MESSAGES} messages acked (have ${acked.size})`, { timeoutMs: 30_000, intervalMs: 100 });
  } finally {
    stream.abort();
    await loop;
  }
  expect(errors).toEqual([]);
  expect(acked.size).toBe(MESSAGES);
}, 90_000);
