import { describe, expect, test } from "bun:test";
import type { Admin } from "kafkajs";
import { Code, PrismError } from "../sdk/grpc/errors";
import type { AdminHandle } from "./admin";
import { parseKafkaConfig } from "./config";
import { Topics } from "./topics";

/** An AdminHandle stand-in that records topic creations. */
function fakeAdmin(partitions = 3) {
  const created: unknown[] = [];
  let calls = 0;
  const admin = {
    createTopics: async (req: { topics: unknown[] }) => {
      created.push(...req.topics);
      return true;
    },
    fetchTopicOffsets: async () => [],
    fetchTopicMetadata: async ({ topics }: { topics: string[] }) => ({
      topics: topics.map((name) => ({ name, partitions: Array.from({ length: partitions }, (_, i) => ({ partitionId: i })) })),
    }),
  } as unknown as Admin;
  const handle = { use: async <T>(_what: string, fn: (a: Admin) => Promise<T>) => (calls++, fn(admin)) } as unknown as AdminHandle;
  return { handle, created, calls: () => calls };
}

const cfg = parseKafkaConfig({ partitions: 4, replication_factor: 1, max_message_bytes: "2MiB" }, { configFile: "t" });

describe("Topics", () => {
  test("Prism names map to <namespace>.<name>", () => {
    const t = new Topics(fakeAdmin().handle, cfg, "team-a");
    expect(t.kafkaTopic("orders.eu")).toBe("team-a.orders.eu");
  });

  test("topics of different namespaces never coincide, not even under Kafka's '.'/'_' collision rule", () => {
    // Kafka refuses a topic whose name equals an existing one once '.' and '_' are treated alike.
    const folded = (topic: string) => topic.replaceAll(".", "_");
    const owner = new Map<string, string>();
    for (const ns of ["a", "a-b", "ab", "b"]) {
      const t = new Topics(fakeAdmin().handle, cfg, ns);
      for (const name of ["x", "b.x", "b_x", "b-x", "_x", ".x", "a.b.x"]) {
        const key = folded(t.kafkaTopic(name));
        expect(owner.get(key) ?? ns).toBe(ns);
        owner.set(key, ns);
      }
    }
  });

  test("names Kafka cannot hold are INVALID_ARGUMENT", () => {
    const t = new Topics(fakeAdmin().handle, cfg, "ns");
    for (const bad of ["has space", "slash/name", "ünïcode", "x".repeat(247)]) {
      const err = (() => {
        try {
          t.kafkaTopic(bad);
        } catch (e) {
          return e;
        }
      })();
      expect((err as PrismError).code).toBe(Code.INVALID_ARGUMENT);
    }
  });

  test("ensure creates a topic once with the configured partitions, replication and max.message.bytes", async () => {
    const f = fakeAdmin(4);
    const t = new Topics(f.handle, cfg, "ns");
    const [a, b] = await Promise.all([t.ensure("ns.x"), t.ensure("ns.x")]);
    expect([a, b]).toEqual([4, 4]);
    expect(await t.ensure("ns.x")).toBe(4);
    expect(f.calls()).toBe(1);
    expect(f.created).toEqual([
      { topic: "ns.x", numPartitions: 4, replicationFactor: 1, configEntries: [{ name: "max.message.bytes", value: String(2 * 1024 * 1024) }] },
    ]);
  });

  test("a topic found missing (deleted behind the pattern's back) is created again on the next call", async () => {
    const f = fakeAdmin(4);
    const t = new Topics(f.handle, cfg, "ns");
    expect(await t.use("ns.x", async (n) => n)).toBe(4);
    // kafkajs's shape once retries are exhausted: the protocol error is the cause.
    const gone = new Error("retries exceeded", {
      cause: Object.assign(new Error("This server does not host this topic-partition"), { type: "UNKNOWN_TOPIC_OR_PARTITION" }),
    });
    await expect(t.use("ns.x", () => Promise.reject(gone))).rejects.toBe(gone);
    expect(await t.use("ns.x", async (n) => n)).toBe(4);
    expect(f.calls()).toBe(2);
    // Other failures keep what is known.
    await t.use("ns.x", () => Promise.reject(new Error("Connection error"))).catch(() => undefined);
    await t.use("ns.x", async (n) => n);
    expect(f.calls()).toBe(2);
  });
});
