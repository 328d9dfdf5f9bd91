// The queue pattern's bench row (issue 21 item 5): publish throughput (PublishBatch), consume+ack throughput
// (consumers of one group draining the backlog, acks batched), and publish→delivery latency p50/p99 at a moderate
// rate, for one backend, direct or through dist/proxy. Prints one JSON object.
//   bun bench/queue_throughput.ts [--backend memstore|redis|postgres] [--via direct|proxy] [--messages 20000]
//     [--consumers 4] [--rate 1000] [--seconds 5]
// Needs dist/queue (and dist/proxy for --via proxy). Not part of `make bench` yet.
import { parseArgs } from "node:util";
import { ConsumerPattern } from "../proto/gen/prism/patterns/consumer/consumer_pattern_pb";
import { ProducerPattern } from "../proto/gen/prism/patterns/producer/producer_pattern_pb";
import { createClient } from "../sdk/grpc/client";
import { BACKENDS } from "../tests/queue/backends";
import { directTarget, proxyTarget } from "../tests/queue/targets";

const { values } = parseArgs({
  options: {
    backend: { type: "string", default: "memstore" },
    via: { type: "string", default: "direct" },
    messages: { type: "string", default: "20000" },
    consumers: { type: "string", default: "4" },
    rate: { type: "string", default: "1000" },
    seconds: { type: "string", default: "5" },
  },
});
const backend = BACKENDS.find((b) => b.name === values.backend);
if (!backend) throw new Error(`--backend: one of ${BACKENDS.map((b) => b.name).join(", ")}`);
const messages = Number(values.messages);
const consumers = Number(values.consumers);
const rate = Number(values.rate);
const seconds = Number(values.seconds);

const target = await (values.via === "proxy" ? proxyTarget : directTarget)(backend, {});
const opts = { metadata: target.metadata, timeoutMs: 60_000 };
const channel = () => createClient(ProducerPattern, target.address());
const producer = channel();

/** Consumers of `group` acking what they get; onDelivery sees each payload. Returns a stop function. */
function consume(topic: string, group: string, onDelivery: (payload: Uint8Array) => void): () => void {
  const ac = new AbortController();
  for (let i = 0; i < consumers; i++) {
    const c = createClient(ConsumerPattern, target.address());
    let tokens: string[] = [];
    const flush = () => {
      const t = tokens;
      tokens = [];
      if (t.length > 0) c.client.ack({ topic, group, ackTokens: t }, opts).catch(() => undefined);
    };
    const timer = setInterval(flush, 2);
    void (async () => {
      try {
        for await (const d of c.client.consume({ topic, group, maxInFlight: 256 }, { metadata: target.metadata, signal: ac.signal })) {
          onDelivery(d.payload);
          tokens.push(d.ackToken);
          if (tokens.length >= 64) flush();
        }
      } catch {
        // Stopped.
      } finally {
        clearInterval(timer);
        c.close();
      }
    })();
  }
  return () => ac.abort();
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;

try {
  // Publish throughput: batches of 100, 4 in flight.
  const topic = `bench-${Date.now()}`;
  const payload = new Uint8Array(100);
  let t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (next < messages) {
        const n = Math.min(100, messages - next);
        next += n;
        await producer.client.publishBatch({ messages: Array.from({ length: n }, () => ({ topic, payload })) }, opts);
      }
    }),
  );
  const publishPerS = messages / ((performance.now() - t0) / 1000);

  // Consume+ack throughput: drain the backlog.
  let got = 0;
  t0 = performance.now();
  await new Promise<void>((resolve) => {
    const stop = consume(topic, "drain", () => {
      if (++got === messages) {
        stop();
        resolve();
      }
    });
  });
  const consumePerS = messages / ((performance.now() - t0) / 1000);

  // Latency at a moderate rate: the payload carries the publish time.
  const latTopic = `${topic}-lat`;
  const lat: number[] = [];
  const stop = consume(latTopic, "lat", (p) => lat.push(performance.timeOrigin + performance.now() - Number(new TextDecoder().decode(p))));
  await Bun.sleep(500);
  const total = rate * seconds;
  const start = performance.now();
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await Bun.sleep(wait);
    void producer.client.publish({ topic: latTopic, payload: new TextEncoder().encode(String(performance.timeOrigin + performance.now())) }, opts);
  }
  const deadline = Date.now() + 30_000;
  while (lat.length < total && Date.now() < deadline) await Bun.sleep(50);
  stop();
  lat.sort((a, b) => a - b);
  console.log(
    JSON.stringify({
      backend: backend.name,
      via: values.via,
      messages,
      consumers,
      publishPerS: Math.round(publishPerS),
      consumeAckPerS: Math.round(consumePerS),
      latency: { rate, delivered: lat.length, sent: total, p50Ms: +percentile(lat, 50).toFixed(2), p99Ms: +percentile(lat, 99).toFixed(2) },
    }),
  );
} finally {
  producer.close();
  await target.close();
}
process.exit(0);
