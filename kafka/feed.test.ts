import { describe, expect, test } from "bun:test";
import type { Kafka, KafkaMessage } from "kafkajs";
import { createLogger } from "../sdk/observability/logger";
import { parseKafkaConfig } from "./config";
import { ConsumerFeed, FlowStats } from "./feed";
import { waitFor } from "../tests/helpers/wait";

type EachMessage = (p: { topic: string; partition: number; message: KafkaMessage; heartbeat: () => Promise<void> }) => Promise<void>;

/** A kafkajs consumer stand-in: the test delivers records and group joins by hand. */
function fakeKafka() {
  const listeners = new Map<string, (e: unknown) => void>();
  const state = {
    eachMessage: undefined as EachMessage | undefined,
    paused: new Set<number>(),
    seeks: [] as unknown[],
    heartbeats: 0,
    config: undefined as Record<string, unknown> | undefined,
  };
  const consumer = {
    events: { GROUP_JOIN: "join", CRASH: "crash" },
    on: (name: string, fn: (e: unknown) => void) => listeners.set(name, fn),
    connect: async () => undefined,
    subscribe: async () => undefined,
    run: async ({ eachMessage }: { eachMessage: EachMessage }) => {
      state.eachMessage = eachMessage;
    },
    seek: (s: unknown) => state.seeks.push(s),
    pause: (tps: { partitions: number[] }[]) => tps.forEach((tp) => tp.partitions.forEach((p) => state.paused.add(p))),
    resume: (tps: { partitions: number[] }[]) => tps.forEach((tp) => tp.partitions.forEach((p) => state.paused.delete(p))),
    disconnect: async () => undefined,
  };
  const join = (partitions: number[]) => listeners.get("join")!({ payload: { memberAssignment: { t: partitions } } });
  const deliver = (partition: number, offset: number) =>
    state.eachMessage!({
      topic: "t",
      partition,
      message: { offset: String(offset), value: Buffer.from(String(offset)) } as KafkaMessage,
      heartbeat: async () => void state.heartbeats++,
    });
  const kafka = {
    consumer: (config: Record<string, unknown>) => {
      state.config = config;
      return consumer;
    },
  };
  return { kafka: kafka as unknown as Kafka, state, join, deliver };
}

const cfg = parseKafkaConfig({ consumer: { buffer: 4, heartbeat_interval: "10ms" } }, { configFile: "t" });
const logger = createLogger({ level: "error" });

async function started(opts: { onlyPartition?: number; whenFull?: "pause" | "wait"; fetchMaxBytes?: number } = {}) {
  const f = fakeKafka();
  const stats = new FlowStats();
  const feed = new ConsumerFeed(f.kafka, cfg, { groupId: "g", topic: "t", fromBeginning: false, signal: new AbortController().signal, stats, ...opts }, logger);
  await feed.start([{ partition: 1, offset: 7 }]);
  f.join([0, 1]);
  return { ...f, feed, stats };
}

describe("ConsumerFeed flow control", () => {
  test("seeks are registered with the consumer before the first fetch", async () => {
    const { state } = await started();
    expect(state.seeks).toEqual([{ topic: "t", partition: 1, offset: "7" }]);
  });

  test("a full buffer pauses the partition that delivered; taking it down to half resumes", async () => {
    const { feed, state, deliver, stats } = await started();
    for (let i = 0; i < 3; i++) await deliver(0, i);
    expect(state.paused.size).toBe(0);
    await deliver(0, 3);
    expect([...state.paused]).toEqual([0]);
    expect(stats.pauses).toBe(1);
    await deliver(1, 0);
    expect([...state.paused].sort()).toEqual([0, 1]);
    expect([stats.buffered(), stats.pausedPartitions()]).toEqual([5, 2]);
    await feed.queue.next();
    feed.taken();
    expect(state.paused.size).toBe(2);
    await feed.queue.next();
    await feed.queue.next();
    feed.taken();
    expect(state.paused.size).toBe(0);
    expect([stats.buffered(), stats.pausedPartitions()]).toEqual([2, 0]);
  });

  test("the driver's figures cover a feed from construction until stop", async () => {
    const { feed, deliver, stats } = await started();
    await deliver(0, 0);
    expect(stats.live.has(feed)).toBe(true);
    expect(stats.buffered()).toBe(1);
    await feed.stop(100);
    expect(stats.live.size).toBe(0);
    expect(stats.buffered()).toBe(0);
  });

  test("past twice the buffer eachMessage waits, heartbeating, until there is room", async () => {
    const { feed, state, deliver } = await started();
    for (let i = 0; i < 8; i++) await deliver(0, i);
    let accepted = false;
    const ninth = deliver(0, 8).then(() => (accepted = true));
    // A heartbeat comes only from inside the wait for room: once one is seen, the ninth is known to be waiting.
    await waitFor(() => state.heartbeats > 0, "a heartbeat while the ninth waits", { timeoutMs: 2_000, intervalMs: 5 });
    expect(accepted).toBe(false);
    await feed.queue.next();
    await ninth;
    expect(feed.queue.size).toBe(8);
  });

  test('with whenFull "wait" nothing is paused: eachMessage holds the batch until the reader takes one', async () => {
    const { feed, state, deliver, stats } = await started({ whenFull: "wait" });
    for (let i = 0; i < 8; i++) await deliver(0, i);
    expect([state.paused.size, stats.pauses]).toEqual([0, 0]);
    let accepted = false;
    const ninth = deliver(0, 8).then(() => (accepted = true));
    await waitFor(() => state.heartbeats > 0, "a heartbeat while the ninth waits", { timeoutMs: 2_000, intervalMs: 5 });
    expect(accepted).toBe(false);
    await feed.queue.next();
    feed.taken();
    await ninth;
    expect([feed.queue.size, state.paused.size]).toEqual([8, 0]);
  });

  test("fetchMaxBytes bounds what one fetch asks for (the batch a waiting feed holds); kafkajs's defaults otherwise", async () => {
    const bounded = await started({ whenFull: "wait", fetchMaxBytes: 1024 });
    expect([bounded.state.config?.maxBytes, bounded.state.config?.maxBytesPerPartition]).toEqual([1024, 1024]);
    const plain = await started();
    expect("maxBytes" in plain.state.config!).toBe(false);
  });

  test("a rejoin makes buffered records stale and resumes paused partitions", async () => {
    const { feed, state, deliver, join, stats } = await started();
    for (let i = 0; i < 4; i++) await deliver(0, i);
    expect(state.paused.size).toBe(1);
    join([1]);
    expect(state.paused.size).toBe(0);
    const old = (await feed.queue.next()).value!;
    expect(feed.isCurrent(old)).toBe(false);
    expect(stats.staleSkipped).toBe(1);
    await deliver(1, 5);
    for (let i = 0; i < 3; i++) await feed.queue.next();
    expect(feed.isCurrent((await feed.queue.next()).value!)).toBe(true);
  });

  test("with onlyPartition, other partitions are paused and their records dropped", async () => {
    const { feed, state, deliver } = await started({ onlyPartition: 1 });
    await deliver(0, 0);
    expect(state.paused.has(0)).toBe(true);
    expect(feed.queue.size).toBe(0);
    await deliver(1, 0);
    expect(feed.queue.size).toBe(1);
  });
});
