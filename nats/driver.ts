import type { Registry } from "prom-client";
import {
  exportFlowMetrics,
  unimplemented,
  IdempotencyWindow,
  Resilience,
  type FlowExport,
  type Driver,
  type HealthReport,
  type KeyListingDriver,
  type KeyValueBasicDriver,
  type PubSubDriver,
  type PubSubMessage,
  type QueueConsumeOptions,
  type QueueDeadLetterDriver,
  type QueueDeadLetterPage,
  type QueueDelivery,
  type QueueDriver,
  type QueueFeatures,
  type QueuePublished,
  type QueuePublishMessage,
  type QueueStats,
  type StreamDriver,
  type StreamReadOptions,
  type StreamRecordData,
  type SubscribeOptions,
  type Logger,
  type WriteOptions,
} from "@prism/sdk";
import type { NatsConfig } from "./config";
import { NatsConnector } from "./connection";
import { natsNotApplied, toPrismError } from "./errors";
import { NatsKeyValue } from "./kv";
import { NatsPubSub } from "./pubsub";
import { NatsQueue } from "./queue";
import { NatsDeadLetters } from "./queue_dead_letters";
import { NatsStreams } from "./streams";
import type { Subjects } from "./subjects";

export const NATS_PATTERN_VERSION = "0.1.0";

/** Bound on the health probe's round trip. */
const HEALTH_PROBE_MS = 500;

/**
 * Pub/sub on core NATS, streams and queue topics on JetStream and, with `kv.bucket` configured, key-value on a JetStream KV bucket,
 * over one connection that reconnects by itself.
 */
export class NatsDriver implements Driver, PubSubDriver, StreamDriver, KeyValueBasicDriver, KeyListingDriver, QueueDriver, QueueDeadLetterDriver {
  readonly name = "nats";
  readonly version = NATS_PATTERN_VERSION;
  /** Keyed key-value writes carry a Nats-Msg-Id (NatsKeyValue): JetStream dedupes them, across pattern restarts too. */
  readonly idempotentKeyValue = "durable";
  private readonly conn: NatsConnector;
  private readonly pubsub: NatsPubSub;
  private readonly streams: NatsStreams;
  private readonly queue: NatsQueue;
  private readonly deadLetters: NatsDeadLetters;
  readonly queueFeatures: QueueFeatures;
  /** The key-value mode's bucket; undefined when kv is not configured. */
  readonly kv: NatsKeyValue | undefined;
  /** Without kv.bucket the SDK reports no key-value and refuses every key-value call with this reason. */
  readonly keyValueUnavailable: string | undefined;
  private readonly flowExport: FlowExport | undefined;
  /** Breaker and time bound of every write (publish, append, trim). */
  readonly guard: Resilience;
  /** Idempotent writes in flight or done within their window, so a retry joins or reuses the first attempt. */
  private readonly applied = new IdempotencyWindow<Promise<unknown>>();

  /** With a registry, subscriber drops and buffered messages are exported as prism_subscriber_* metrics. */
  constructor(
    private readonly cfg: NatsConfig,
    private readonly subjects: Subjects,
    logger: Logger,
    registry?: Registry,
  ) {
    this.conn = new NatsConnector(cfg, logger);
    const pubsub = (this.pubsub = new NatsPubSub(this.conn, subjects, cfg, logger));
    this.streams = new NatsStreams(this.conn, subjects, cfg);
    this.queue = new NatsQueue(this.conn, subjects, cfg, logger);
    this.queueFeatures = this.queue.features();
    this.deadLetters = new NatsDeadLetters(this.conn, subjects, this.queue, cfg.request_timeout);
    this.kv = cfg.kv && new NatsKeyValue(this.conn, cfg, cfg.kv, subjects.namespace, logger);
    this.keyValueUnavailable = this.kv ? undefined : "configure kv.bucket (without it this pattern serves pub/sub and streams only)";
    this.flowExport = registry && exportFlowMetrics(registry, "nats", { drops: pubsub.drops, buffered: () => pubsub.stats().buffered });
    this.guard = new Resilience({
      name: `nats ${cfg.url}`,
      mapError: (err) => toPrismError(err, "nats"),
      notApplied: natsNotApplied,
      timeoutMs: cfg.request_timeout,
      failureThreshold: cfg.breaker.failure_threshold,
      openDurationMs: cfg.breaker.open_duration,
      maxAttempts: 1,
      initialDelayMs: 0,
      maxDelayMs: 0,
      onStateChange: (from, to) => logger[to === "open" ? "warn" : "info"]("nats circuit breaker", { from, to }),
    });
  }

  /** Resolves once the first connection is up (tests and embedders; serving does not wait for it). */
  get ready(): Promise<unknown> {
    return this.conn.ready;
  }

  /** Core NATS has no deduplication: a keyed publish is deduplicated in this process. */
  publish(topic: string, payload: Uint8Array, metadata: Record<string, string>, _key = "", write?: WriteOptions): Promise<{ messageId: string }> {
    const once = () => this.pubsub.publish(topic, payload, metadata);
    if (!write?.idempotencyKey) return this.guard.write(once);
    return this.guard.write(() => this.applied.run(`publish\0${topic}\0${write.idempotencyKey}`, write.windowMs, once) as Promise<{ messageId: string }>);
  }

  subscribe(opts: SubscribeOptions): AsyncIterable<PubSubMessage> {
    return this.pubsub.subscribe(opts);
  }

  unsubscribe(topic: string, subscriberId: string): boolean {
    return this.pubsub.unsubscribe(topic, subscriberId);
  }

  /**
   * A keyed append carries the key as its Nats-Msg-Id: JetStream stores it once per stream within the stream's
   * duplicate window (2 minutes by default) and answers a retry with the first record's sequence, even after a
   * restart of the pattern; a retry while the first attempt is still in flight here joins it.
   */
  append(
    stream: string,
    payload: Uint8Array,
    metadata: Record<string, string>,
    key: string,
    write?: WriteOptions,
  ): Promise<{ offset: number; partition: number; timestamp: number }> {
    const id = write?.idempotencyKey;
    const once = () => this.streams.append(stream, payload, metadata, key, id);
    if (!id) return this.guard.write(once);
    return this.guard.write(
      () => this.applied.run(`append\0${stream}\0${id}`, write.windowMs, once) as Promise<{ offset: number; partition: number; timestamp: number }>,
    );
  }

  read(opts: StreamReadOptions): AsyncIterable<StreamRecordData> {
    return this.streams.read(opts);
  }

  trim(stream: string, partition: number, beforeOffset: number): Promise<number> {
    return this.guard.write(() => this.streams.trim(stream, partition, beforeOffset));
  }

  /** Queue topics on JetStream (NatsQueue): publishes go through the breaker and time bound like appends. */
  queuePublish(topic: string, messages: QueuePublishMessage[]): Promise<QueuePublished[]> {
    return this.guard.write(() => this.queue.publish(topic, messages), this.queue.publishTimeout(messages.length));
  }

  queueConsume(opts: QueueConsumeOptions): AsyncIterable<QueueDelivery> {
    return this.queue.consume(opts);
  }

  queueAck(topic: string, group: string, tokens: string[]): Promise<boolean[]> {
    return this.guard.write(() => this.queue.ack(topic, group, tokens));
  }

  queueNack(topic: string, group: string, token: string, redeliverAfterMs: number, error: string): Promise<boolean> {
    return this.guard.write(() => this.queue.nack(topic, group, token, redeliverAfterMs, error));
  }

  queueStats(topic: string, group: string): Promise<QueueStats> {
    return this.guard.read(() => this.queue.stats(topic, group));
  }

  /** Dead letters in a second JetStream stream per topic (NatsDeadLetters; JetStream has no dead-letter queue). */
  queueDeadLetter(topic: string, group: string, delivery: QueueDelivery, lastError: string): Promise<void> {
    return this.guard.write(() => this.deadLetters.deadLetter(topic, group, delivery, lastError));
  }

  queueDeadLetters(topic: string, group: string, limit: number, cursor: string): Promise<QueueDeadLetterPage> {
    return this.guard.read(() => this.deadLetters.list(topic, group, limit, cursor), undefined, this.cfg.request_timeout * 5);
  }

  queueRedrive(topic: string, group: string, messageIds: string[]): Promise<number> {
    return this.guard.write(() => this.deadLetters.redrive(topic, group, messageIds), this.cfg.request_timeout * 10);
  }

  queueDeadLetterCount(topic: string, group: string): Promise<number> {
    return this.guard.read(() => this.deadLetters.count(topic, group));
  }

  circuitState() {
    return this.guard.breaker.state;
  }

  /** The one NATS connection while it is up, exported as backend_driver_connections_active. */
  connectionsActive(): number {
    return this.conn.state === "connected" ? 1 : 0;
  }

  private kvStore(): NatsKeyValue {
    if (!this.kv) throw unimplemented("key-value not supported by this nats pattern: it serves key-value only with kv.bucket configured");
    return this.kv;
  }

  async set(key: string, value: Uint8Array, ttlSeconds: number, write?: WriteOptions): Promise<void> {
    const kv = this.kvStore();
    return this.guard.write(() => kv.set(key, value, ttlSeconds, write));
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    const kv = this.kvStore();
    return this.guard.read(() => kv.get(key));
  }

  async getVersioned(key: string) {
    const kv = this.kvStore();
    return this.guard.read(() => kv.getVersioned(key));
  }

  async setVersioned(key: string, value: Uint8Array, ttlSeconds: number, expected: string | undefined, write?: WriteOptions): Promise<string> {
    const kv = this.kvStore();
    return this.guard.write(() => kv.setVersioned(key, value, ttlSeconds, expected, write));
  }

  async deleteVersioned(key: string, expected: string | undefined, write?: WriteOptions): Promise<boolean> {
    const kv = this.kvStore();
    return this.guard.write(() => kv.deleteVersioned(key, expected, write));
  }

  async delete(key: string, write?: WriteOptions): Promise<boolean> {
    const kv = this.kvStore();
    return this.guard.write(() => kv.delete(key, write));
  }

  async exists(key: string): Promise<boolean> {
    const kv = this.kvStore();
    return this.guard.read(() => kv.exists(key));
  }

  async *listKeys(prefix: string, signal: AbortSignal): AsyncIterable<string> {
    yield* this.kvStore().listKeys(prefix, signal);
  }

  /** Healthy while connected; the connection notices a dead server within ping_interval × max_pings_out at worst. */
  async health(): Promise<HealthReport> {
    const s = this.pubsub.stats();
    const details: Record<string, string> = {
      url: this.cfg.url,
      namespace: this.subjects.namespace,
      connection: this.conn.state,
      reconnects_total: String(this.conn.reconnects),
      subscriptions: String(s.subscriptions),
      buffered_messages: String(s.buffered),
      dropped_messages_total: String(s.dropped),
      subscriber_buffer: String(this.cfg.subscriber_buffer),
      circuit: this.guard.breaker.state,
    };
    if (this.kv) details.kv_bucket = this.kv.bucket;
    if (this.conn.state === "connected") {
      // A frozen server keeps the TCP connection: only a round trip shows it (nats.js notices after its pings).
      const probe = await this.roundTrip(Math.min(HEALTH_PROBE_MS, this.cfg.request_timeout));
      if (probe) return { status: "unhealthy", message: `nats ${this.cfg.url} does not answer: ${probe}`, details };
      if (details.circuit === "open")
        return { status: "degraded", message: `circuit open for nats ${this.cfg.url}: calls fail fast until a probe succeeds`, details };
      return { status: "healthy", details };
    }
    return { status: "unhealthy", message: `nats ${this.conn.state}${this.conn.lastError ? `: ${this.conn.lastError}` : ""}`, details };
  }

  /** A PING/PONG with the server within ms; "" when it answered, else why not. */
  private async roundTrip(ms: number): Promise<string> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await Promise.race([
        this.conn.current().flush(),
        new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no PONG within ${ms} ms`)), ms))),
      ]);
      return "";
    } catch (err) {
      return (err as Error).message;
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    this.flowExport?.close();
    this.pubsub.endAll();
    await this.conn.close(this.cfg.request_timeout);
  }
}
