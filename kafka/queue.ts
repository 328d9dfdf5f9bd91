import type { Kafka } from "kafkajs";
import {
  Code,
  sleep,
  type Logger,
  type QueueConsumeOptions,
  type QueueDelivery,
  type QueueFeatures,
  type QueuePublished,
  type QueuePublishMessage,
  type QueueStats,
} from "@prism/sdk";
import type { AdminHandle } from "./admin";
import type { KafkaConfig } from "./config";
import { toPrismError } from "./errors";
import type { FlowStats } from "./feed";
import type { Stored } from "./producer";
import { QueueGroup } from "./queue_group";
import type { Topics } from "./topics";

/** Bytes of a record's framing and the pattern's headers kept out of max_message_bytes. */
const RECORD_ALLOWANCE = 16 * 1024;

/** Codes of failures a Consume cannot get past by waiting: the stream ends with them. */
const PERMANENT = new Set<Code>([Code.INVALID_ARGUMENT, Code.PERMISSION_DENIED, Code.UNAUTHENTICATED, Code.FAILED_PRECONDITION, Code.OUT_OF_RANGE]);

/** Writes one record (KafkaDriver's write: breaker, time bound, topic created on first use). */
export type RecordWriter = (topic: string, payload: Uint8Array, headers: Record<string, string>, key: string) => Promise<Stored>;

/**
 * Queue topics on Kafka (issue 21). A queue topic is the Kafka topic `<namespace>.<topic>` (the same one pub/sub
 * and streams of that name use); a message's key picks its partition, so a key's messages keep their order. A group
 * is the Kafka consumer group `q:<kafka topic>:<group>`, in which this process takes part with one member
 * (QueueGroup) shared by its Consume streams: acks, nacks and ack deadlines are kept here, and offsets are committed
 * only below each partition's lowest unfinished message, so a crash or rebalance redelivers what was not finished.
 * An ack token names this process's member and generation: it is settled by the pattern instance that delivered
 * it (another instance answers unknown, and the message is redelivered after its deadline). Attempts are counted
 * here and carried in the offset commits' metadata (the first 100 unfinished messages of each partition), so they
 * survive a rebalance or a restart of the pattern for the messages at the head of each partition.
 */
export class KafkaQueue {
  private readonly groups = new Map<string, QueueGroup>();
  /** Groups no local stream uses any more, until queue.linger passes. */
  private readonly lingering = new Map<QueueGroup, ReturnType<typeof setTimeout>>();

  constructor(
    private readonly kafka: Kafka,
    private readonly admin: AdminHandle,
    private readonly topics: Topics,
    private readonly cfg: KafkaConfig,
    private readonly flow: FlowStats,
    private readonly logger: Logger,
    private readonly write: RecordWriter,
  ) {}

  features(): QueueFeatures {
    return {
      // Keys map to partitions, and a key's next message waits for the previous one (QueueGroup).
      ordering: "per_key",
      // Records sent together go to the broker together (BatchingProducer).
      batch: "native",
      // No dedupeWindowMs: the idempotent producer drops the broker's own retries; the SDK dedupes a client's.
      durable: true,
      maxMessageSize: Math.max(1, this.cfg.max_message_bytes - RECORD_ALLOWANCE),
      durableStats: false,
    };
  }

  async publish(topic: string, messages: QueuePublishMessage[]): Promise<QueuePublished[]> {
    const stored = await Promise.all(messages.map((m) => this.write(topic, m.payload, m.headers, m.key)));
    return stored.map((s) => ({ messageId: `${s.partition}/${s.offset}`, duplicate: false }));
  }

  async *consume(opts: QueueConsumeOptions): AsyncGenerator<QueueDelivery> {
    const kafkaTopic = this.topics.kafkaTopic(opts.topic);
    let failures = 0;
    while (!opts.signal.aborted) {
      let g: QueueGroup | undefined;
      try {
        await this.topics.ensure(kafkaTopic);
        g = this.join(kafkaTopic, opts.group);
        await g.ready();
        for (;;) {
          const d = await g.take(opts.signal, opts.ackDeadlineMs);
          if (!d) return;
          failures = 0;
          yield d;
        }
      } catch (err) {
        if (opts.signal.aborted) return;
        const e = toPrismError(err, "queue consume");
        if (PERMANENT.has(e.code)) throw e;
        if (failures++ === 0) this.logger.debug("kafka queue consumer failed; retrying", { topic: opts.topic, group: opts.group, error: e.message });
        await sleep(Math.min(2_000, 100 * 2 ** Math.min(failures, 5)), opts.signal).catch(() => undefined);
      } finally {
        if (g) await this.leave(g);
      }
    }
  }

  ack(topic: string, group: string, tokens: string[]): boolean[] {
    const g = this.groupOf(topic, group);
    return tokens.map((t) => g?.ack(t) ?? false);
  }

  nack(topic: string, group: string, token: string, redeliverAfterMs: number, error: string): boolean {
    return this.groupOf(topic, group)?.nack(token, redeliverAfterMs, error) ?? false;
  }

  /**
   * pending = messages after the group's position not yet finished nor in flight; the position is this process's
   * commit point for the partitions it owns, else the committed offset (else the start: a new group reads all).
   * Messages held by another pattern instance of the group count as pending.
   */
  async stats(topic: string, group: string): Promise<QueueStats> {
    const kafkaTopic = this.topics.kafkaTopic(topic);
    await this.topics.ensure(kafkaTopic);
    const [ends, committed] = await this.admin.useSettling("queue stats", this.cfg.request_timeout, (admin) =>
      Promise.all([admin.fetchTopicOffsets(kafkaTopic), admin.fetchOffsets({ groupId: groupIdOf(kafkaTopic, group), topics: [kafkaTopic] })]),
    );
    const commits = new Map((committed[0]?.partitions ?? []).map((p) => [p.partition, Number(p.offset)]));
    const local = this.groups.get(groupIdOf(kafkaTopic, group))?.counts();
    let unfinished = 0;
    for (const e of ends) {
      const low = Number(e.low);
      const mine = local?.partitions.get(e.partition);
      const from = Math.max(low, mine?.commitPoint ?? commits.get(e.partition) ?? low);
      unfinished += Math.max(0, Number(e.high) - from - (mine?.finishedAbove ?? 0));
    }
    const inFlight = local?.inFlight ?? 0;
    return { pending: Math.max(0, unfinished - inFlight), inFlight };
  }

  /** Leaves every group (each commits first). */
  async close(): Promise<void> {
    for (const t of this.lingering.values()) clearTimeout(t);
    this.lingering.clear();
    const all = [...this.groups.values()];
    this.groups.clear();
    await Promise.all(all.map((g) => g.close()));
  }

  get groupCount(): number {
    return this.groups.size;
  }

  private groupOf(topic: string, group: string): QueueGroup | undefined {
    let kafkaTopic: string;
    try {
      kafkaTopic = this.topics.kafkaTopic(topic);
    } catch {
      return undefined;
    }
    return this.groups.get(groupIdOf(kafkaTopic, group));
  }

  private join(kafkaTopic: string, group: string): QueueGroup {
    const id = groupIdOf(kafkaTopic, group);
    let g = this.groups.get(id);
    if (g) this.cancelLinger(g);
    if (!g?.usable) {
      if (g) void g.close();
      g = new QueueGroup(this.kafka, this.admin, this.cfg, kafkaTopic, id, this.flow, this.logger);
      this.groups.set(id, g);
    }
    g.users++;
    return g;
  }

  /**
   * The last local stream of a group leaving makes this process leave the Kafka group after queue.linger: its
   * deliveries can still be acked or given back meanwhile, and a consumer that reconnects finds the group as it was
   * (no rebalance).
   */
  private async leave(g: QueueGroup): Promise<void> {
    if (--g.users > 0) return;
    if (!g.usable || this.cfg.queue.linger <= 0) return this.drop(g);
    this.lingering.set(
      g,
      setTimeout(() => void this.drop(g), this.cfg.queue.linger),
    );
  }

  private cancelLinger(g: QueueGroup): void {
    clearTimeout(this.lingering.get(g));
    this.lingering.delete(g);
  }

  private async drop(g: QueueGroup): Promise<void> {
    this.cancelLinger(g);
    if (g.users > 0) return;
    for (const [id, x] of this.groups) if (x === g) this.groups.delete(id);
    await g.close();
  }
}

/** The Kafka consumer group of a queue group: no pub/sub group id (`<kafka topic>/<subscriber>`) starts with "q:". */
export function groupIdOf(kafkaTopic: string, group: string): string {
  return `q:${kafkaTopic}:${group}`;
}
