/**
 * Fault row of issue 21 for the Redis queue backend: Redis is killed (SIGKILL) in the middle of consumption and
 * started again on the same port and data folder (append-only file, fsync on every write: a reply means durable).
 * Consumption resumes by itself, no published message is lost, and the group ends with nothing pending.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { appendFileSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConsumerPattern } from "../../proto/gen/prism/patterns/consumer/consumer_pattern_pb";
import { ProducerPattern } from "../../proto/gen/prism/patterns/producer/producer_pattern_pb";
import { createClient } from "../../sdk/grpc/client";
import { Code, PrismError } from "../../sdk/grpc/errors";
import { ROOT, type StartedProcess, startProcess } from "../helpers/process";
import { waitFor } from "../helpers/wait";
import { type OwnRedis, startOwnRedis } from "../redis/harness";
import { directTarget, type QueueTarget } from "./targets";

const MESSAGES = 3_000;
let redis: OwnRedis;
let target: QueueTarget;
const dir = mkdtempSync(join(tmpdir(), "prism-queue-outage-"));

beforeAll(async () => {
  redis = await startOwnRedis();
  const backend = {
    name: "own-redis",
    needs: [],
    slots: async () => ({
      slots: { queue: { driver: "redis", config: { address: `redis://${redis.address}`, command_timeout: "1s" } } },
      cleanup: async () => {},
    }),
  };
  target = await directTarget(backend, {});
}, 60_000);

afterAll(async () => {
  await target?.close();
  await redis?.destroy();
  rmSync(dir, { recursive: true, force: true });
}, 60_000);

test("Redis killed and restarted mid-consumption: consumption resumes by itself, 0 lost", async () => {
  const opts = { metadata: target.metadata, timeoutMs: 20_000 };
  const producer = createClient(ProducerPattern, target.address());
  const consumer = createClient(ConsumerPattern, producer.raw);
  const topic = "outage";
  const group = "g";
  const clients: StartedProcess[] = [];
  const logs: string[] = [];
  const delivered = () => {
    const ids = new Set<string>();
    for (const l of logs) for (const line of readFileSync(l, "utf8").split("\n")) if (line.startsWith("D ")) ids.add(line.split(" ")[1]!);
    return ids;
  };
  try {
    await consumer.client.getStats({ topic, group }, opts);
    const published = new Set<string>();
    for (let i = 0; i < MESSAGES; i += 250) {
      const r = await producer.client.publishBatch(
        { messages: Array.from({ length: 250 }, (_, j) => ({ topic, payload: new TextEncoder().encode(String(i + j)) })) },
        opts,
      );
      for (const m of r.results) published.add(m.messageId);
    }
    for (let i = 0; i < 2; i++) {
      const log = join(dir, `c${i}.log`);
      appendFileSync(log, "");
      logs.push(log);
      const o = {
        addressFile: target.addressFile,
        metadata: target.metadata,
        topic,
        group,
        consumerId: `c${i}`,
        maxInFlight: 16,
        ackDeadlineMs: 5_000,
        logFile: log,
      };
      clients.push(startProcess([process.execPath, join(ROOT, "tests/queue/consumer_client.ts"), JSON.stringify(o)]));
    }
    await waitFor(() => delivered().size >= MESSAGES / 3, "a third of the messages were delivered", { timeoutMs: 60_000, intervalMs: 50 });
    await redis.stop("SIGKILL");
    // The outage is seen: calls that need Redis fail UNAVAILABLE (and the consume streams stay open, retrying).
    await waitFor(
      async () =>
        (await consumer.client
          .getStats({ topic, group }, opts)
          .then(() => 0)
          .catch((e) => PrismError.from(e).code)) === Code.UNAVAILABLE,
      "GetStats answers UNAVAILABLE while Redis is down",
      { timeoutMs: 20_000, intervalMs: 100 },
    );
    const atOutage = delivered().size;
    expect(atOutage).toBeLessThan(MESSAGES);
    await redis.restart();
    await waitFor(() => delivered().size === MESSAGES, "every message was delivered after Redis came back", { timeoutMs: 90_000, intervalMs: 100 });
    await waitFor(
      async () => {
        const s = await consumer.client.getStats({ topic, group }, opts).catch(() => undefined);
        return s !== undefined && s.pending === 0n && s.inFlight === 0n;
      },
      "the group has nothing pending or in flight",
      { timeoutMs: 30_000, intervalMs: 200 },
    );
    const seen = delivered();
    const lost = [...published].filter((id) => !seen.has(id)).length;
    console.log(`[queue over redis, outage] ${MESSAGES} published, ${atOutage} delivered before the kill, ${seen.size} after, ${lost} lost`);
    expect(lost).toBe(0);
  } finally {
    for (const c of clients) await c.stop(2_000);
    producer.close();
  }
}, 180_000);
