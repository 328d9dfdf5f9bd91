import type { Kafka } from "kafkajs";
import type { Registry } from "prom-client";
import {
  exportFlowMetrics,
  TopicDrops,
  IdempotencyWindow,
  Resilience,
  type Driver,
  type HealthReport,
  type PubSubDriver,
  type PubSubMessage,
  type QueueConsumeOptions,
  type QueueDelivery,
  type QueueDriver,
  type QueueFeatures,
  type QueuePublished,
  type QueuePublishMessage,
  type QueueStats,
  type StreamDriver,
  type StreamAppend,
  type StreamPlace,
  type StreamReadOptions,
  type StreamRecordData,
  type SubscribeOptions,
  type FlowExport,
  type WriteOptions,
  type Logger,
} from "@prism/sdk";
import { AdminHandle } from "./admin";
import { createKafka } from "./client";
import type { KafkaConfig } from "./config";
import { kafkaNotApplied, toPrismError } from "./errors";
import { FlowStats } from "./feed";
import { BatchingProducer, type Stored } from "./producer";
import { KafkaQueue } from "./queue";
import { StreamReader } from "./stream";
import { Subscription } from "./subscriber";
import { Topics } from "./topics";

export const KAFKA_PATTERN_VERSION = "0.1.0";

/**
 * Pub/sub and streams on Kafka. Writes go through a circuit breaker and a time bound (`call_timeout`) so that
 * a hung broker costs a call at most that long and, once the broker is known to be down, callers get
 * UNAVAILABLE at once instead of each waiting out connection attempts; the breaker lets one probe through
 * every `circuit_breaker.open_duration`, which is how the pattern notices the broker is back.
 */
export class KafkaDriver implements Driver, PubSubDriver, StreamDriver, QueueDriver {
  readonly name = "kafka";
  readonly version = KAFKA_PATTERN_VERSION;
  private readonly kafka: Kafka;
  private readonly admin: AdminHandle;
  private readonly healthAdmin: AdminHandle;
  private readonly topics: Topics;
  private readonly producer: BatchingProducer;
  private readonly reader: StreamReader;
  private readonly queue: KafkaQueue;
  readonly queueFeatures: QueueFeatures;
  private readonly guard: Resilience;
  /** Keyed writes in flight or done within their window (the key check on top of the idempotent producer). */
  private readonly applied = new IdempotencyWindow<Promise<Stored & { topic: string }>>();
  private readonly stats = new FlowStats();
  /** Live subscriptions by topic and subscriber id. */
  private readonly subscriptions = new Map<string, Set<Subscription>>();
  private lastHealth: { at: number; report: Promise<HealthReport> } | undefined;
  private readonly flowExport: FlowExport | undefined;

  /** With a registry, flow control (pauses, paused partitions, buffered records) is exported as prism_* metrics. */
  constructor(
    private readonly cfg: KafkaConfig,
    namespace: string,
    private readonly logger: Logger,
    registry?: Registry,
  ) {
    this.kafka = createKafka(cfg, logger);
    this.admin = new AdminHandle(this.kafka);
    this.healthAdmin = new AdminHandle(this.kafka);
    this.topics = new Topics(this.admin, cfg, namespace);
    this.producer = new BatchingProducer(this.kafka, cfg);
    this.reader = new StreamReader(this.kafka, this.admin, this.topics, cfg, this.stats, logger);
    this.queue = new KafkaQueue(this.kafka, this.admin, this.topics, cfg, this.stats, logger, (topic, payload, headers, key) =>
      this.write(topic, payload, headers, key),
    );
    this.queueFeatures = this.queue.features();
    this.guard = new Resilience({
      name: "kafka",
      mapError: (err) => toPrismError(err, "kafka"),
      notApplied: kafkaNotApplied,
      timeoutMs: cfg.call_timeout,
      failureThreshold: cfg.circuit_breaker.failure_threshold,
      openDurationMs: cfg.circuit_breaker.open_duration,
      maxAttempts: 1,
      initialDelayMs: 0,
      maxDelayMs: 0,
      onStateChange: (from, to) => logger[to === "open" ? "warn" : "info"]("kafka circuit breaker", { from, to }),
    });
    const stats = this.stats;
    this.flowExport =
      registry &&
      exportFlowMetrics(registry, "kafka", {
        // Flow control pauses instead of dropping: exported so the drop series reads 0 for Kafka too.
        drops: new TopicDrops(),
        buffered: () => stats.buffered(),
        pauses: () => stats.pauses,
        pausedPartitions: () => stats.pausedPartitions(),
      });
  }

  /**
   * One record. The producer is idempotent (the broker drops its own retries within a session); a write with an
   * idempotency key is also checked here, so a client's retry within the window joins or reuses the first
   * attempt's record instead of producing a second one. (Across a restart of the pattern Kafka offers no
   * such check: a retry then may store the record twice.)
   */
  private async write(
    name: string,
    payload: Uint8Array,
    metadata: Record<string, string>,
    key: string,
    write?: WriteOptions,
  ): Promise<Stored & { topic: string }> {
    const topic = this.topics.kafkaTopic(name);
    // Creating the topic on first use may take the controller a while: it is bounded by request_timeout (it has
    // no effect a retry could duplicate); the write itself by call_timeout.
    await this.guard.read(() => this.topics.ensure(topic), undefined, this.cfg.request_timeout * 2);
    const once = () =>
      this.topics.use(topic, async (partitions) => {
        const partition = this.producer.partitionFor(topic, partitions, key);
        const stored = await this.producer.send(topic, partition, payload, metadata, key);
        return { ...stored, topic };
      });
    const id = write?.idempotencyKey;
    return this.guard.write(id ? () => this.applied.run(`${topic}\0${id}`, write.windowMs, once) : once);
  }

  async publish(topic: string, payload: Uint8Array, metadata: Record<string, string>, key: string, write?: WriteOptions): Promise<{ messageId: string }> {
    const s = await this.write(topic, payload, metadata, key, write);
    return { messageId: `${topic}/${s.partition}/${s.offset}` };
  }

  async *subscribe(opts: SubscribeOptions): AsyncGenerator<PubSubMessage> {
    const kafkaTopic = this.topics.kafkaTopic(opts.topic);
    await this.guard.read(() => this.topics.ensure(kafkaTopic), opts.signal, this.cfg.request_timeout * 2);
    const groupId = `${kafkaTopic}/${opts.subscriberId}`;
    const sub = new Subscription(
      this.kafka,
      this.admin,
      this.cfg,
      { topic: opts.topic, kafkaTopic, groupId, signal: opts.signal, stats: this.stats },
      this.logger,
    );
    const key = `${opts.topic}\0${opts.subscriberId}`;
    let set = this.subscriptions.get(key);
    if (!set) this.subscriptions.set(key, (set = new Set()));
    set.add(sub);
    try {
      try {
        await this.topics.use(kafkaTopic, () => sub.start());
      } catch (err) {
        await sub.stop();
        throw toPrismError(err, "subscribe");
      }
      yield* sub.messages();
    } finally {
      set.delete(sub);
      if (set.size === 0 && this.subscriptions.get(key) === set) this.subscriptions.delete(key);
    }
  }

  unsubscribe(topic: string, subscriberId: string): boolean {
    const set = this.subscriptions.get(`${topic}\0${subscriberId}`);
    if (!set || set.size === 0) return false;
    for (const sub of set) sub.end();
    return true;
  }

  async append(
    stream: string,
    payload: Uint8Array,
    metadata: Record<string, string>,
    key: string,
    write?: WriteOptions,
  ): Promise<{ offset: number; partition: number; timestamp: number }> {
    const s = await this.write(stream, payload, metadata, key, write);
    return { offset: s.offset, partition: s.partition, timestamp: s.timestamp };
  }

  /**
   * Many records in one guarded call: queued together, they leave in one produce request (or a few, past
   * max_batch_messages / max_batch_bytes) in the order given, so one key's records keep their order.
   */
  async appendBatch(stream: string, records: readonly StreamAppend[]): Promise<StreamPlace[]> {
    const topic = this.topics.kafkaTopic(stream);
    await this.guard.read(() => this.topics.ensure(topic), undefined, this.cfg.request_timeout * 2);
    const all = () =>
      this.topics.use(topic, (partitions) =>
        Promise.all(
          records.map((r) => {
            const once = async () => ({
              ...(await this.producer.send(topic, this.producer.partitionFor(topic, partitions, r.key), r.payload, r.metadata, r.key)),
              topic,
            });
            const id = r.write?.idempotencyKey;
            return id ? this.applied.run(`${topic}\0${id}`, r.write!.windowMs, once) : once();
          }),
        ),
      );
    const stored = await this.guard.write(all);
    return stored.map((s) => ({ offset: s.offset, partition: s.partition, timestamp: s.timestamp }));
  }

  read(opts: StreamReadOptions): AsyncIterable<StreamRecordData> {
    return this.reader.read(opts);
  }

  trim(stream: string, partition: number, beforeOffset: number): Promise<number> {
    return this.guard.write(() => this.reader.trim(stream, partition, beforeOffset));
  }

  /** Queue topics (KafkaQueue): each record of a batch is written like a publish. */
  queuePublish(topic: string, messages: QueuePublishMessage[]): Promise<QueuePublished[]> {
    return this.queue.publish(topic, messages);
  }

  queueConsume(opts: QueueConsumeOptions): AsyncIterable<QueueDelivery> {
    return this.queue.consume(opts);
  }

  async queueAck(topic: string, group: string, tokens: string[]): Promise<boolean[]> {
    return this.queue.ack(topic, group, tokens);
  }

  async queueNack(topic: string, group: string, token: string, redeliverAfterMs: number, error: string): Promise<boolean> {
    return this.queue.nack(topic, group, token, redeliverAfterMs, error);
  }

  queueStats(topic: string, group: string): Promise<QueueStats> {
    return this.guard.read(() => this.queue.stats(topic, group), undefined, this.cfg.request_timeout * 2);
  }

  circuitState() {
    return this.guard.breaker.state;
  }

  /** Asks the cluster for its brokers (bounded by health_timeout); cached briefly so frequent checks stay cheap. */
  health(): Promise<HealthReport> {
    const now = Date.now();
    if (this.lastHealth && now - this.lastHealth.at < 250) return this.lastHealth.report;
    const report = this.checkHealth();
    this.lastHealth = { at: now, report };
    return report;
  }

  private async checkHealth(): Promise<HealthReport> {
    let subs = 0;
    for (const set of this.subscriptions.values()) subs += set.size;
    const details: Record<string, string> = {
      brokers: this.cfg.brokers.join(","),
      namespace: this.topics.namespace,
      subscriptions: String(subs),
      // Subscribe and Read streams alike (both are consumers with a bounded buffer).
      buffered_messages: String(this.stats.buffered()),
      paused_partitions: String(this.stats.pausedPartitions()),
      flow_control_pauses_total: String(this.stats.pauses),
      stale_records_skipped_total: String(this.stats.staleSkipped),
      consumer_restarts_total: String(this.stats.restarts),
      queue_groups: String(this.queue.groupCount),
      circuit_breaker: this.guard.breaker.state,
    };
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      const cluster = await Promise.race([
        this.healthAdmin.use("health", (admin) => admin.describeCluster()),
        new Promise<never>(
          (_, reject) => (timer = setTimeout(() => reject(new Error(`no answer within ${this.cfg.health_timeout} ms`)), this.cfg.health_timeout)),
        ),
      ]);
      details.live_brokers = String(cluster.brokers.length);
      return { status: "healthy", details };
    } catch (err) {
      return { status: "unhealthy", message: `kafka unreachable: ${toPrismError(err, "health").message}`, details };
    } finally {
      clearTimeout(timer);
    }
  }

  /**
   * Ends every subscription and stream Read and waits (bounded) for their consumers to leave their groups
   * (subscriptions commit first).
   */
  async close(): Promise<void> {
    this.flowExport?.close();
    const leaving: Promise<void>[] = [this.reader.close(), this.queue.close()];
    for (const set of this.subscriptions.values()) {
      for (const s of set) {
        s.end();
        leaving.push(s.stop());
      }
    }
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([Promise.all(leaving), new Promise((r) => (timer = setTimeout(r, this.cfg.request_timeout)))]);
    clearTimeout(timer);
    await Promise.all([this.producer.close(), this.admin.close(), this.healthAdmin.close()]);
  }
}
