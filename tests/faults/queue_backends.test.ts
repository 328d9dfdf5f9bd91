/**
 * The queue pattern (dist/queue) while its backend is killed (SIGKILL) and started again during consumption, for
 * NATS JetStream, Kafka and PostgreSQL, each on a server of the test's own: consumption resumes by itself (the
 * Consume stream stays open or the client reopens it; over PostgreSQL it must stay open: the row fails if the client
 * had to reopen it), and every published message reaches the group — 0 lost; deliveries the outage interrupted come
 * again (duplicates are counted and printed).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { ConsumerPattern } from "../../proto/gen/prism/patterns/consumer/consumer_pattern_pb";
import { ProducerPattern } from "../../proto/gen/prism/patterns/producer/producer_pattern_pb";
import { createClient } from "../../sdk/grpc/client";
import { startKafkaBroker } from "../kafka/broker";
import { testConfig as kafkaTestConfig } from "../kafka/target";
import { startNatsServer } from "../nats/server";
import { startOwnPostgres } from "../postgres/server";
import { waitFor } from "../helpers/wait";
import { directTarget, type QueueTarget } from "../queue/targets";

const MESSAGES = 3_000;
const enc = new TextEncoder();

interface OwnBackend {
  name: string;
  /** The pattern keeps the Consume stream open through the outage: the client never has to reopen it. */
  streamStaysOpen?: boolean;
  /** Starts the server; the queue slot for it, and its controls. */
  start(): Promise<{ slot: { driver: string; config: Record<string, unknown> }; kill(): Promise<void>; restart(): Promise<void>; close(): Promise<void> }>;
}

const backends: OwnBackend[] = [
  {
    name: "nats",
    async start() {
      const s = await startNatsServer();
      return {
        slot: { driver: "nats", config: { url: s.url, reconnect_wait: "50ms", reconnect_max_wait: "300ms", ping_interval: "1s" } },
        kill: s.stop,
        restart: s.start,
        close: s.close,
      };
    },
  },
  {
    name: "kafka",
    async start() {
      const k = await startKafkaBroker();
      const { namespace: _ns, ...config } = kafkaTestConfig(k.brokers, "unused");
      return { slot: { driver: "kafka", config }, kill: k.stop, restart: k.start, close: k.close };
    },
  },
  {
    name: "postgres",
    streamStaysOpen: true,
    async start() {
      const pg = await startOwnPostgres();
      return { slot: { driver: "postgres", config: pg.config }, kill: pg.kill, restart: pg.start, close: pg.close };
    },
  },
];

for (const b of backends) {
  describe(`queue over ${b.name}: backend killed during consumption`, () => {
    const closers: (() => Promise<void>)[] = [];
    afterAll(async () => {
      for (const c of closers.reverse()) await c().catch(() => undefined);
    });

    test("consumption resumes by itself and no published message is lost", async () => {
      const server = await b.start();
      closers.push(server.close);
      const t: QueueTarget = await directTarget(
        { name: `fault-${b.name}`, needs: [], slots: async () => ({ slots: { queue: server.slot }, cleanup: async () => {} }) },
        { ack_deadline: "3s" },
      );
      closers.push(t.close);
      const producer = createClient(ProducerPattern, t.address());
      const consumer = createClient(ConsumerPattern, t.address());
      closers.push(async () => {
        producer.close();
        consumer.close();
      });
      const topic = `faults-${Date.now().toString(36)}`;
      const published = new Set<string>();
      for (let i = 0; i < MESSAGES; i += 500) {
        const r = await producer.client.publishBatch(
          { messages: Array.from({ length: 500 }, (_, j) => ({ topic, key: `k${(i + j) % 20}`, payload: enc.encode(String(i + j)) })) },
          { timeoutMs: 30_000 },
        );
        for (const x of r.results) published.add(x.messageId);
      }
      expect(published.size).toBe(MESSAGES);

      const delivered = new Set<string>();
      let deliveries = 0;
      let reopened = 0;
      const ac = new AbortController();
      const loop = (async () => {
        while (!ac.signal.aborted) {
          try {
            for await (const d of consumer.client.consume({ topic, group: "g", maxInFlight: 50 }, { signal: ac.signal })) {
              deliveries++;
              delivered.add(d.messageId);
              // Acks may fail while the backend is down: those messages come again after their deadline.
              consumer.client.ack({ topic, group: "g", ackTokens: [d.ackToken] }, { timeoutMs: 5_000 }).catch(() => undefined);
              await Bun.sleep(0);
            }
          } catch {
            // The stream failed (backend down): reopen, as a client does.
          }
          if (!ac.signal.aborted) {
            reopened++;
            await Bun.sleep(200);
          }
        }
      })();
      try {
        await waitFor(() => delivered.size >= MESSAGES / 4, "a quarter of the messages delivered", { timeoutMs: 60_000, intervalMs: 50 });
        await server.kill();
        const atKill = delivered.size;
        await Bun.sleep(1_000);
        await server.restart();
        await waitFor(() => delivered.size > atKill + 100, "consumption resumed after the restart", { timeoutMs: 90_000, intervalMs: 100 });
        await waitFor(() => delivered.size >= MESSAGES, "every message delivered", { timeoutMs: 90_000, intervalMs: 250 });
      } finally {
        ac.abort();
        await loop;
      }
      const lost = [...published].filter((id) => !delivered.has(id));
      console.log(
        `[queue fault ${b.name}] ${MESSAGES} published, ${delivered.size} delivered, ${lost.length} lost, ${deliveries - delivered.size} duplicates, stream reopened ${reopened} times`,
      );
      expect(lost).toEqual([]);
      if (b.streamStaysOpen) expect(reopened).toBe(0);
    }, 240_000);
  });
}
