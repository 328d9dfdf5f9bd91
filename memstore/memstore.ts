import type { Registry } from "prom-client";
import {
  exportFlowMetrics,
  IdempotencyWindow,
  type FlowExport,
  type WriteOptions,
  type BatchSetEntry,
  type Driver,
  type HealthReport,
  type KeyValueBasicDriver,
  type KeyValueBatchDriver,
  type KeyValueScanDriver,
  type KeyValueTTLDriver,
  type ListDriver,
  type PubSubDriver,
  type PubSubMessage,
  type ScanEntry,
  type ScanOptions,
  type StreamDriver,
  type StreamReadOptions,
  type StreamRecordData,
  type SubscribeOptions,
  type VersionedValue,
  type QueueConsumeOptions,
  type QueueDeadLetterDriver,
  type QueueDelivery,
  type QueueDriver,
  type QueuePublishMessage,
} from "@prism/sdk";
import type { MemStoreConfig } from "./config";
import { KvStore } from "./kv_store";
import { ListStore } from "./list_store";
import { PubSubHub } from "./pubsub_hub";
import { MemQueue } from "./queue";
import { StreamLog } from "./stream_log";

/** Defaults of config.ts, for embedding and tests. */
export const DEFAULT_MEMSTORE_CONFIG: MemStoreConfig = {
  maxKeys: 10_000,
  maxLists: 10_000,
  sweepIntervalMs: 1_000,
  sweepLimit: 10_000,
  subscriberBuffer: 1_000,
  maxStreamRecords: 100_000,
  maxStreams: 10_000,
};

/** Per-topic drop counts shown in health details, highest first. */
const TOPICS_IN_HEALTH = 20;

/**
 * The in-memory driver: every driver interface of the SDK, in one process and
 * without dependencies. Key-value, lists, pub/sub, streams and queues are separate
 * parts; this class wires them together, runs the one expiry timer and reports
 * health (degraded at capacity).
 */
export class MemStore
  implements
    Driver,
    KeyValueBasicDriver,
    KeyValueTTLDriver,
    KeyValueScanDriver,
    KeyValueBatchDriver,
    ListDriver,
    PubSubDriver,
    StreamDriver,
    QueueDriver,
    QueueDeadLetterDriver
{
  readonly name = "memstore";
  readonly version = "0.1.0";
  /** Keyed writes are deduplicated in this process: a restart forgets the keys (the data is gone with it too). */
  readonly idempotentKeyValue = "in-process";
  readonly storesTags = true;
  readonly kv: KvStore;
  readonly lists: ListStore;
  readonly pubsub: PubSubHub;
  readonly streams: StreamLog;
  readonly queue = new MemQueue();
  readonly queueFeatures = this.queue.queueFeatures;
  private readonly sweeper: ReturnType<typeof setInterval>;
  private readonly flowExport: FlowExport | undefined;

  /** With a registry, pub/sub drops and buffered messages are exported as prism_subscriber_* metrics. */
  constructor(
    readonly config: MemStoreConfig = DEFAULT_MEMSTORE_CONFIG,
    registry?: Registry,
  ) {
    this.kv = new KvStore(config.maxKeys, config.sweepLimit);
    this.lists = new ListStore(config.maxLists);
    this.pubsub = new PubSubHub(config.subscriberBuffer);
    this.streams = new StreamLog(config.maxStreamRecords, config.maxStreams);
    this.sweeper = setInterval(() => this.kv.sweep(Date.now(), config.sweepLimit), config.sweepIntervalMs);
    // The store must never keep a process alive on its own.
    this.sweeper.unref();
    const pubsub = this.pubsub;
    this.flowExport = registry && exportFlowMetrics(registry, "memstore", { drops: pubsub.drops, buffered: () => pubsub.buffered() });
  }

  /** Writes carrying an x-prism-idempotency-key are applied once per key within the window (in-process). */
  private readonly applied = new IdempotencyWindow<unknown>();

  set(key: string, value: Uint8Array, ttlSeconds: number, write?: WriteOptions): void {
    this.once(write, `set\0${key}`, () => this.kv.set(key, value, ttlSeconds));
  }
  get(key: string): Uint8Array | undefined {
    return this.kv.get(key);
  }
  getVersioned(key: string): VersionedValue | undefined {
    return this.kv.getVersioned(key);
  }
  setVersioned(key: string, value: Uint8Array, ttlSeconds: number, expected: string | undefined, write?: WriteOptions, tags?: Record<string, string>): string {
    return this.once(write, `set\0${key}`, () => this.kv.setVersioned(key, value, ttlSeconds, expected, tags));
  }
  deleteVersioned(key: string, expected: string | undefined, write?: WriteOptions): boolean {
    return this.once(write, `delete\0${key}`, () => this.kv.deleteVersioned(key, expected));
  }
  delete(key: string, write?: WriteOptions): boolean {
    return this.once(write, `delete\0${key}`, () => this.kv.delete(key));
  }
  exists(key: string): boolean {
    return this.kv.exists(key);
  }

  expire(key: string, ttlSeconds: number, write?: WriteOptions): boolean {
    return this.once(write, `expire\0${key}`, () => this.kv.expire(key, ttlSeconds));
  }
  getTTL(key: string): number {
    return this.kv.getTTL(key);
  }
  persist(key: string, write?: WriteOptions): boolean {
    return this.once(write, `persist\0${key}`, () => this.kv.persist(key));
  }

  scan(opts: ScanOptions): Iterable<ScanEntry> {
    return this.kv.scan(opts);
  }
  count(prefix: string): number {
    return this.kv.count(prefix);
  }

  batchSet(entries: BatchSetEntry[], write?: WriteOptions): void {
    this.once(write, "batchSet", () => this.kv.batchSet(entries));
  }
  batchGet(keys: string[]): (Uint8Array | undefined)[] {
    return this.kv.batchGet(keys);
  }
  batchDelete(keys: string[], write?: WriteOptions): boolean[] {
    return this.once(write, "batchDelete", () => this.kv.batchDelete(keys));
  }

  /** Runs a key-value write once per (scope, idempotency key) within the window; unkeyed writes just run. */
  private once<T>(write: WriteOptions | undefined, scope: string, fn: () => T): T {
    if (!write?.idempotencyKey) return fn();
    return this.applied.run(`${scope}\0${write.idempotencyKey}`, write.windowMs, fn) as T;
  }

  pushLeft(key: string, values: Uint8Array[]): number {
    return this.lists.pushLeft(key, values);
  }
  pushRight(key: string, values: Uint8Array[]): number {
    return this.lists.pushRight(key, values);
  }
  popLeft(key: string, count: number): Uint8Array[] {
    return this.lists.popLeft(key, count);
  }
  popRight(key: string, count: number): Uint8Array[] {
    return this.lists.popRight(key, count);
  }
  length(key: string): number {
    return this.lists.length(key);
  }
  range(key: string, start: number, stop: number): Uint8Array[] {
    return this.lists.range(key, start, stop);
  }

  publish(topic: string, payload: Uint8Array, metadata: Record<string, string>, key: string, write?: WriteOptions): { messageId: string } {
    if (!write?.idempotencyKey) return this.pubsub.publish(topic, payload, metadata, key);
    return this.applied.run(`publish\0${topic}\0${write.idempotencyKey}`, write.windowMs, () => this.pubsub.publish(topic, payload, metadata, key)) as {
      messageId: string;
    };
  }
  subscribe(opts: SubscribeOptions): AsyncIterable<PubSubMessage> {
    return this.pubsub.subscribe(opts);
  }
  unsubscribe(topic: string, subscriberId: string): boolean {
    return this.pubsub.unsubscribe(topic, subscriberId);
  }

  append(
    stream: string,
    payload: Uint8Array,
    metadata: Record<string, string>,
    key: string,
    write?: WriteOptions,
  ): { offset: number; partition: number; timestamp: number } {
    if (!write?.idempotencyKey) return this.streams.append(stream, payload, metadata, key);
    return this.applied.run(`append\0${stream}\0${write.idempotencyKey}`, write.windowMs, () => this.streams.append(stream, payload, metadata, key)) as {
      offset: number;
      partition: number;
      timestamp: number;
    };
  }
  read(opts: StreamReadOptions): AsyncIterable<StreamRecordData> {
    return this.streams.read(opts);
  }
  trim(stream: string, partition: number, beforeOffset: number): number {
    return this.streams.trim(stream, partition, beforeOffset);
  }

  queuePublish(topic: string, messages: QueuePublishMessage[]) {
    return this.queue.queuePublish(topic, messages);
  }
  queueConsume(opts: QueueConsumeOptions) {
    return this.queue.queueConsume(opts);
  }
  queueAck(topic: string, group: string, tokens: string[]) {
    return this.queue.queueAck(topic, group, tokens);
  }
  queueNack(topic: string, group: string, token: string, redeliverAfterMs: number, error: string) {
    return this.queue.queueNack(topic, group, token, redeliverAfterMs, error);
  }
  queueStats(topic: string, group: string) {
    return this.queue.queueStats(topic, group);
  }
  queueDeadLetter(topic: string, group: string, delivery: QueueDelivery, lastError: string) {
    return this.queue.queueDeadLetter(topic, group, delivery, lastError);
  }
  queueDeadLetters(topic: string, group: string, limit: number, cursor: string) {
    return this.queue.queueDeadLetters(topic, group, limit, cursor);
  }
  queueRedrive(topic: string, group: string, messageIds: string[]) {
    return this.queue.queueRedrive(topic, group, messageIds);
  }
  queueDeadLetterCount(topic: string, group: string) {
    return this.queue.queueDeadLetterCount(topic, group);
  }

  /** Degraded while keys, lists or streams are at their bound; details carry every counter worth debugging. */
  /** Keys expired so far, exported as backend_driver_expired_keys_total. */
  expiredTotal(): number {
    return this.kv.expired;
  }

  health(): HealthReport {
    // Expired keys still in the map would overstate `keys` and the capacity state; sweep_limit bounds the pause
    // (health is polled), so after a burst of expiries `keys` may still count some until the timer catches up.
    const { maxKeys, maxLists, maxStreams, sweepLimit } = this.config;
    const swept = this.kv.sweep(Date.now(), sweepLimit);
    const ps = this.pubsub.stats();
    const st = this.streams.stats();
    const details: Record<string, string> = {
      keys: String(this.kv.size),
      max_keys: String(maxKeys),
      keys_with_ttl: String(this.kv.withTtl),
      // "true" while more keys are due than one sweep reclaims: `keys` then includes expired ones.
      expiry_backlog: String(!swept),
      expired_keys_total: String(this.kv.expired),
      lists: String(this.lists.size),
      max_lists: String(maxLists),
      list_items: String(this.lists.items),
      topics: String(ps.topics),
      subscribers: String(ps.subscribers),
      published_messages_total: String(ps.published),
      buffered_messages: String(this.pubsub.buffered()),
      // Also exported as prism_subscriber_dropped_messages_total{driver="memstore",topic}.
      dropped_messages_total: String(ps.dropped),
      streams: String(st.streams),
      max_streams: String(maxStreams),
      stream_records: String(st.records),
      stream_followers: String(st.followers),
    };
    const worst = [...ps.droppedByTopic].sort((a, b) => b[1] - a[1]).slice(0, TOPICS_IN_HEALTH);
    for (const [topic, n] of worst) details[`dropped_messages_total{topic=${JSON.stringify(topic)}}`] = String(n);
    const full: string[] = [];
    if (this.kv.size >= maxKeys) full.push(`${this.kv.size} of max_keys ${maxKeys} keys${swept ? "" : " (some expired, reclaimed on the next write)"}`);
    if (this.lists.size >= maxLists) full.push(`${this.lists.size} of max_lists ${maxLists} lists`);
    if (st.streams >= maxStreams) full.push(`${st.streams} of max_streams ${maxStreams} streams`);
    if (full.length > 0) return { status: "degraded", message: `at capacity: ${full.join(", ")}; new ones are refused`, details };
    return { status: "healthy", details };
  }

  async close(): Promise<void> {
    clearInterval(this.sweeper);
    this.flowExport?.close();
    this.pubsub.close();
    this.streams.close();
    this.queue.close();
    this.kv.clear();
    this.lists.clear();
  }
}
