/**
 * The Kafka pattern's producer alone (BatchingProducer: idempotent, acks=all, group commit), without gRPC:
 * acknowledged records per second and latency at 1, 16 and 64 sends in flight, 100-byte records.
 *
 *   ./node_modules/.bin/bun tests/kafka/producer_bench.ts [seconds per run]
 *
 * Against the shared broker (make services); the topic it creates is deleted at the end.
 */
import { createKafka } from "../../kafka/client";
import { parseKafkaConfig } from "../../kafka/config";
import { BatchingProducer } from "../../kafka/producer";
import { createLogger } from "../../sdk/observability/logger";
import { kafkaBrokers } from "../helpers/services";

const seconds = Number(process.argv[2] ?? 5);
const cfg = parseKafkaConfig({ brokers: kafkaBrokers() }, { configFile: "bench" });
const kafka = createKafka(cfg, createLogger({ level: "warn" }));
const admin = kafka.admin();
await admin.connect();
const topic = `producer-bench-${Date.now()}`;
await admin.createTopics({ waitForLeaders: true, topics: [{ topic, numPartitions: 3 }] });
const producer = new BatchingProducer(kafka, cfg);
const payload = new Uint8Array(100);
try {
  await producer.send(topic, 0, payload, {}, ""); // connect and warm up
  for (const inFlight of [1, 16, 64]) {
    const latencies: number[] = [];
    const end = performance.now() + seconds * 1000;
    let n = 0;
    await Promise.all(
      Array.from({ length: inFlight }, async () => {
        while (performance.now() < end) {
          const start = performance.now();
          await producer.send(topic, n++ % 3, payload, {}, "");
          latencies.push(performance.now() - start);
        }
      }),
    );
    latencies.sort((a, b) => a - b);
    const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * q))]!.toFixed(2);
    console.log(`${inFlight} in flight: ${(latencies.length / seconds).toFixed(0)} records/s, p50 ${at(0.5)} ms, p99 ${at(0.99)} ms`);
  }
} finally {
  await producer.close();
  await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
  await admin.disconnect();
}
