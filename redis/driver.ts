import type { Redis } from "ioredis";
import type { Registry } from "prom-client";
import {
  exportFlowMetrics,
  Resilience,
  Code,
  PrismError,
  type FlowExport,
  type BatchSetEntry,
  type Driver,
  type HealthReport,
  type JsonFilterScanDriver,
  type JsonFilterScanOptions,
  type KeyValueBasicDriver,
  type KeyValueBatchDriver,
  type KeyValueScanDriver,
  type KeyValueTTLDriver,
  type ListDriver,
  type PubSubDriver,
  type PubSubMessage,
  type ScanEntry,
  type StreamDriver,
  type StreamReadOptions,
  type ScanOptions,
  type SubscribeOptions,
  type WriteOptions,
  type Logger,
  type QueueConsumeOptions,
  type QueueDriver,
  type QueuePublishMessage,
} from "@prism/sdk";
import type { RedisConfig } from "./config";
import { RedisConnection } from "./connection";
import type { RedisContext } from "./context";
import { redisError, redisNotApplied } from "./errors";
import { RedisKeyValue } from "./kv";
import { RedisList } from "./list";
import { RedisJsonFilter } from "./native_filter";
import { RedisPubSub } from "./pubsub";
import { RedisQueue } from "./queue";
import { RedisScan } from "./scan";
import { RedisStreams } from "./stream";

export const DRIVER_VERSION = "0.1.0";

/** How long a health check waits for PING before calling Redis unreachable. */
const HEALTH_PING_MS = 500;

/**
 * The Redis driver: every interface the pattern serves, on one command connection (plus a subscriber connection
 * once someone subscribes), behind one circuit breaker.
 */
export class RedisDriver
  implements
    Driver,
    KeyValueBasicDriver,
    KeyValueTTLDriver,
    KeyValueScanDriver,
    KeyValueBatchDriver,
    ListDriver,
    PubSubDriver,
    JsonFilterScanDriver,
    StreamDriver,
    QueueDriver
{
  readonly name = "redis";
  readonly version = DRIVER_VERSION;
  /** Keyed key-value writes leave a marker in Redis (RedisKeyValue): recognised after a pattern restart too. */
  readonly idempotentKeyValue = "durable";
  readonly conn: RedisConnection;
  readonly guard: Resilience;
  /** Database semantic-convention attributes for backend spans (a cluster names its first seed). */
  readonly spanAttributes: Readonly<Record<string, string | number>>;
  private readonly kv: RedisKeyValue;
  private readonly scanner: RedisScan;
  private readonly jsonFilter: RedisJsonFilter;
  readonly jsonFilterUnavailable: string | undefined;
  private readonly list: RedisList;
  private readonly pubsub: RedisPubSub;
  private readonly streams: RedisStreams;
  private readonly queue: RedisQueue;
  readonly queueFeatures: RedisQueue["queueFeatures"];
  private readonly flowExport: FlowExport | undefined;

  /** With a registry, pub/sub drops and buffered messages are exported as prism_subscriber_* metrics. */
  constructor(
    readonly config: RedisConfig,
    logger: Logger,
    registry?: Registry,
  ) {
    this.conn = new RedisConnection(config, logger);
    const first = config.nodes[0]!;
    this.spanAttributes = { "server.address": first.host, "server.port": first.port, "db.namespace": String(config.db) };
    this.guard = new Resilience({
      name: `redis ${this.conn.target}`,
      mapError: (err) => redisError(err, this.conn),
      notApplied: redisNotApplied,
      timeoutMs: config.commandTimeoutMs,
      failureThreshold: config.breaker.failureThreshold,
      openDurationMs: config.breaker.openDurationMs,
      maxAttempts: config.retry.maxAttempts,
      initialDelayMs: config.retry.initialDelayMs,
      maxDelayMs: config.retry.maxDelayMs,
      onStateChange: (from, to) => logger[to === "open" ? "warn" : "info"]("redis circuit breaker", { from, to, target: this.conn.target }),
    });
    const guard = this.guard;
    const durable = waitFor(this.conn, config.wait);
    const ctx: RedisContext = {
      conn: this.conn,
      guard,
      prefix: config.keyPrefix,
      cluster: config.mode === "cluster",
      write: durable
        ? (fn) =>
            guard.write(async () => {
              const r = await fn();
              await durable();
              return r;
            })
        : (fn) => guard.write(fn),
    };
    this.kv = new RedisKeyValue(ctx);
    this.scanner = new RedisScan(ctx, config.scanCount, config.cursorSecret);
    this.list = new RedisList(ctx);
    this.jsonFilter = new RedisJsonFilter(ctx);
    this.jsonFilterUnavailable = this.jsonFilter.jsonFilterUnavailable;
    this.streams = new RedisStreams(ctx);
    this.queue = new RedisQueue(ctx);
    this.queueFeatures = this.queue.queueFeatures;
    const pubsub = (this.pubsub = new RedisPubSub(ctx, config.subscriberBuffer, logger));
    this.flowExport = registry && exportFlowMetrics(registry, "redis", { drops: pubsub.drops, buffered: () => pubsub.buffered() });
  }

  set(key: string, value: Uint8Array, ttlSeconds: number, write?: WriteOptions) {
    return this.kv.set(key, value, ttlSeconds, write);
  }
  get(key: string) {
    return this.kv.get(key);
  }
  getVersioned(key: string) {
    return this.kv.getVersioned(key);
  }
  setVersioned(key: string, value: Uint8Array, ttlSeconds: number, expected: string | undefined, write?: WriteOptions) {
    return this.kv.setVersioned(key, value, ttlSeconds, expected, write);
  }
  deleteVersioned(key: string, expected: string | undefined, write?: WriteOptions) {
    return this.kv.deleteVersioned(key, expected, write);
  }
  delete(key: string, write?: WriteOptions) {
    return this.kv.delete(key, write);
  }
  exists(key: string) {
    return this.kv.exists(key);
  }
  expire(key: string, ttlSeconds: number, write?: WriteOptions) {
    return this.kv.expire(key, ttlSeconds, write);
  }
  getTTL(key: string) {
    return this.kv.getTTL(key);
  }
  persist(key: string, write?: WriteOptions) {
    return this.kv.persist(key, write);
  }
  batchSet(entries: BatchSetEntry[], write?: WriteOptions) {
    return this.kv.batchSet(entries, write);
  }
  batchGet(keys: string[]) {
    return this.kv.batchGet(keys);
  }
  batchDelete(keys: string[], write?: WriteOptions) {
    return this.kv.batchDelete(keys, write);
  }
  scan(opts: ScanOptions): AsyncIterable<ScanEntry> {
    return this.scanner.scan(opts);
  }
  count(prefix: string) {
    return this.scanner.count(prefix);
  }
  filterScan(opts: JsonFilterScanOptions) {
    return this.jsonFilter.filterScan(opts);
  }
  pushLeft(key: string, values: Uint8Array[]) {
    return this.list.pushLeft(key, values);
  }
  pushRight(key: string, values: Uint8Array[]) {
    return this.list.pushRight(key, values);
  }
  popLeft(key: string, count: number) {
    return this.list.popLeft(key, count);
  }
  popRight(key: string, count: number) {
    return this.list.popRight(key, count);
  }
  length(key: string) {
    return this.list.length(key);
  }
  range(key: string, start: number, stop: number) {
    return this.list.range(key, start, stop);
  }
  publish(topic: string, payload: Uint8Array, metadata: Record<string, string>, _key: string, write?: WriteOptions) {
    return this.pubsub.publish(topic, payload, metadata, _key, write);
  }
  subscribe(opts: SubscribeOptions): AsyncIterable<PubSubMessage> {
    return this.pubsub.subscribe(opts);
  }
  unsubscribe(topic: string, subscriberId: string) {
    return this.pubsub.unsubscribe(topic, subscriberId);
  }

  append(stream: string, payload: Uint8Array, metadata: Record<string, string>, key: string, write?: WriteOptions) {
    return this.streams.append(stream, payload, metadata, key, write);
  }
  read(opts: StreamReadOptions) {
    return this.streams.read(opts);
  }
  trim(stream: string, partition: number, beforeOffset: number) {
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

  /** Ready connections to Redis (commands, one per cluster node, and the subscriber), exported as backend_driver_connections_active. */
  connectionsActive(): number {
    return this.conn.activeConnections();
  }

  circuitState() {
    return this.guard.breaker.state;
  }

  /** Waits (bounded) for the first connection; false when Redis is not reachable yet. */
  connected(timeoutMs: number): Promise<boolean> {
    return this.conn.waitReady(timeoutMs);
  }

  /** Healthy when the connection is ready, PING answers and the breaker is closed; unhealthy with the reason otherwise. */
  async health(): Promise<HealthReport> {
    const breaker = this.guard.breaker.state;
    const details: Record<string, string> = {
      target: this.conn.target,
      mode: this.config.mode,
      connection: this.conn.status,
      circuit: breaker,
      key_prefix: this.config.keyPrefix,
      pubsub_dropped: String(this.pubsub.dropped),
      pubsub_buffered: String(this.pubsub.buffered()),
    };
    if (!this.conn.ready) {
      return { status: "unhealthy", message: `redis ${this.conn.target} unreachable: ${this.conn.lastError || this.conn.status}`, details };
    }
    try {
      await raceTimeout(this.conn.client.ping(), HEALTH_PING_MS);
    } catch (err) {
      return { status: "unhealthy", message: `redis ${this.conn.target} does not answer PING: ${redisError(err).message}`, details };
    }
    if (breaker === "open")
      return { status: "degraded", message: `circuit open for redis ${this.conn.target}; it answers again, calls resume after a probe`, details };
    if (breaker === "half-open") return { status: "degraded", message: "redis circuit half-open: probing recovery", details };
    return { status: "healthy", details };
  }

  async close(): Promise<void> {
    this.flowExport?.close();
    this.pubsub.closeAll();
    await this.conn.close();
  }
}

function raceTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error("Command timed out")), ms)));
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/**
 * The durability wait after a stored write, when configured: WAIT <replicas> <timeout> (replicas acknowledged
 * it), or WAITAOF <local> <replicas> <timeout> (Redis >= 7.2: fsynced to the AOF locally and on replicas). Sent
 * on the command connection right after the write, so it covers it. Too few acknowledgements within the
 * timeout: the write is on the primary but not as durable as asked, so its outcome is unknown (it may be lost
 * on a failover or crash): DEADLINE_EXCEEDED, saying so.
 */
function waitFor(conn: RedisConnection, w: RedisConfig["wait"]): (() => Promise<void>) | undefined {
  if (w.replicas === 0 && !w.localAof) return undefined;
  return async () => {
    const client = conn.client as Redis;
    if (w.localAof) {
      const reply = await client.call("WAITAOF", 1, w.replicas, w.timeoutMs).catch((err: Error) => {
        if (/unknown command/i.test(err.message)) {
          throw new PrismError(
            Code.FAILED_PRECONDITION,
            "wait.local_aof needs WAITAOF (Redis 7.2 or later), which this server lacks; the write itself was applied",
          );
        }
        throw err;
      });
      const [local, replicas] = reply as [number, number];
      if (local >= 1 && replicas >= w.replicas) return;
      throw notDurable(`WAITAOF: fsynced locally ${local ? "yes" : "no"}, on ${replicas} of ${w.replicas} replicas within ${w.timeoutMs} ms`);
    }
    const acked = (await client.call("WAIT", w.replicas, w.timeoutMs)) as number;
    if (acked < w.replicas) throw notDurable(`WAIT: ${acked} of ${w.replicas} replicas acknowledged within ${w.timeoutMs} ms`);
  };
}

/** Resilience.write adds that the outcome is unknown and how to retry. */
function notDurable(why: string): PrismError {
  return new PrismError(
    Code.DEADLINE_EXCEEDED,
    `redis applied the write but it is not as durable as configured (${why}): it may be lost on a failover or crash`,
  );
}
