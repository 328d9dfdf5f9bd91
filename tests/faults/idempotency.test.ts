/**
 * x-prism-idempotency-key on Set, Publish and Append, against every backend (dist/ patterns, real servers): a
 * retried write is stored once and answers like the first; a retry after a pattern restart is still recognised
 * where the backend keeps the key (Redis markers, JetStream message ids).
 */
import { afterAll, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { KeyValueBasicInterface } from "../../proto/gen/prism/interfaces/keyvalue/keyvalue_basic_pb";
import { PubSubBasicInterface } from "../../proto/gen/prism/interfaces/pubsub/pubsub_basic_pb";
import { StreamBasicInterface } from "../../proto/gen/prism/interfaces/stream/stream_basic_pb";
import { createClient } from "../../sdk/grpc/client";
import { Code, PrismError } from "../../sdk/grpc/errors";
import { configuredPattern, type ConfiguredPattern } from "../helpers/process";
import { kafkaBrokers, natsUrl, redisUrl, requireService } from "../helpers/services";
import { deleteNamespaceTopics } from "../kafka/target";

const text = (s: string) => new TextEncoder().encode(s);
const str = (b: Uint8Array) => new TextDecoder().decode(b);
const ns = (label: string) => `idem-${label}-${randomBytes(4).toString("hex")}`;
const keyed = (k: string) => ({ metadata: { "x-prism-idempotency-key": k }, timeoutMs: 15_000 });

interface Backend {
  name: "memstore" | "redis" | "nats" | "kafka";
  config: () => Promise<Record<string, unknown>>;
  kv: boolean;
  stream: boolean;
  /** The key survives a restart of the pattern (kept by the backend). */
  durableKeys: { set: boolean; append: boolean };
  cleanup?: (config: Record<string, unknown>) => Promise<void>;
}

const backends: Backend[] = [
  { name: "memstore", config: async () => ({}), kv: true, stream: true, durableKeys: { set: false, append: false } },
  {
    name: "redis",
    config: async () => (await requireService("redis"), { address: redisUrl(), namespace: ns("redis") }),
    kv: true,
    stream: true,
    durableKeys: { set: true, append: true },
  },
  {
    name: "nats",
    config: async () => (await requireService("nats"), { url: natsUrl(), namespace: ns("nats") }),
    kv: false,
    stream: true,
    durableKeys: { set: false, append: true },
  },
  {
    name: "kafka",
    config: async () => (await requireService("kafka"), { brokers: kafkaBrokers(), namespace: ns("kafka"), partitions: 1 }),
    kv: false,
    stream: true,
    durableKeys: { set: false, append: false },
    cleanup: (c) => deleteNamespaceTopics(kafkaBrokers(), c.namespace as string),
  },
];

const running: ConfiguredPattern[] = [];
afterAll(async () => {
  for (const p of running) await p.close().catch(() => undefined);
});

async function start(b: Backend, config: Record<string, unknown>) {
  const p = await configuredPattern(b.name, config);
  running.push(p);
  const kv = createClient(KeyValueBasicInterface, p.address);
  const pubsub = createClient(PubSubBasicInterface, kv.raw);
  const stream = createClient(StreamBasicInterface, kv.raw);
  return {
    kv: kv.client,
    pubsub: pubsub.client,
    stream: stream.client,
    stop: async () => {
      kv.close();
      running.splice(running.indexOf(p), 1);
      await p.close();
    },
  };
}

for (const b of backends) {
  describe(`idempotency keys: ${b.name}`, () => {
    test("a retried write is stored once and answers like the first", async () => {
      const config = await b.config();
      let p = await start(b, config);
      try {
        const id = `req-${randomBytes(6).toString("hex")}`;
        const first = await p.pubsub.publish({ topic: "t", payload: text("once") }, keyed(`${id}-pub`));
        const again = await p.pubsub.publish({ topic: "t", payload: text("once") }, keyed(`${id}-pub`));
        expect(again.messageId).toBe(first.messageId);
        const other = await p.pubsub.publish({ topic: "t", payload: text("once") }, keyed(`${id}-pub2`));
        expect(other.messageId).not.toBe(first.messageId);

        if (b.kv) {
          await p.kv.set({ key: "k", value: text("first") }, keyed(`${id}-set`));
          await p.kv.set({ key: "k", value: text("someone else") });
          // The retry of the first write must not overwrite what came after it.
          await p.kv.set({ key: "k", value: text("first") }, keyed(`${id}-set`));
          expect(str((await p.kv.get({ key: "k" })).value)).toBe("someone else");
        }

        if (b.stream) {
          const a1 = await p.stream.append({ stream: "s", payload: text("r1") }, keyed(`${id}-app`));
          const a2 = await p.stream.append({ stream: "s", payload: text("r1") }, keyed(`${id}-app`));
          expect(a2.offset).toBe(a1.offset);
          await p.stream.append({ stream: "s", payload: text("r2") });
          const records: string[] = [];
          for await (const r of p.stream.read({ stream: "s", partition: a1.partition, fromOffset: 0n, maxRecords: 10 }, { timeoutMs: 15_000 })) {
            records.push(str(r.payload));
          }
          expect(records).toEqual(["r1", "r2"]);
        }

        // A retry reaching a restarted pattern: still once where the backend keeps the key.
        if (b.durableKeys.set || b.durableKeys.append) {
          await p.stop();
          p = await start(b, config);
          if (b.durableKeys.set) {
            await p.kv.set({ key: "k", value: text("first") }, keyed(`${id}-set`));
            expect(str((await p.kv.get({ key: "k" })).value)).toBe("someone else");
          }
          if (b.durableKeys.append) {
            const a3 = await p.stream.append({ stream: "s", payload: text("r1") }, keyed(`${id}-app`));
            const records: string[] = [];
            for await (const r of p.stream.read({ stream: "s", partition: 0, fromOffset: 0n, maxRecords: 10 }, { timeoutMs: 15_000 }))
              records.push(str(r.payload));
            expect(records).toEqual(["r1", "r2"]);
            expect(a3.offset).toBeGreaterThan(0n);
          }
        }

        const tooLong = await p.pubsub.publish({ topic: "t", payload: text("x") }, keyed("k".repeat(300))).catch((e) => PrismError.from(e));
        expect((tooLong as PrismError).code).toBe(Code.INVALID_ARGUMENT);
      } finally {
        await p.stop();
        await b.cleanup?.(config);
      }
    }, 90_000);
  });
}
