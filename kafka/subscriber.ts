import type { Kafka } from "kafkajs";
import { type PubSubMessage, type Logger } from "@prism/sdk";
import type { AdminHandle } from "./admin";
import type { KafkaConfig } from "./config";
import { ConsumerFeed, type FeedItem, type FlowStats } from "./feed";
import { headersToMetadata } from "./headers";

export interface SubscriptionOptions {
  /** Prism topic name, as messages carry it. */
  topic: string;
  kafkaTopic: string;
  groupId: string;
  signal: AbortSignal;
  stats: FlowStats;
}

/**
 * One Subscribe call: a member of the consumer group named by the subscriber id. Offsets are committed
 * only for records already handed to the gRPC stream (the generator resumes after `yield` only when the
 * server asks for the next message, i.e. after the previous one was written), so a subscriber that goes
 * away and comes back resumes where it stopped: at-least-once, nothing skipped.
 */
export class Subscription {
  private readonly feed: ConsumerFeed;
  /** Next offset to commit per partition (last handed + 1), and what the group last committed from here. */
  private readonly handed = new Map<number, number>();
  private readonly committed = new Map<number, number>();
  private timer: ReturnType<typeof setInterval> | undefined;
  private committing: Promise<void> = Promise.resolve();
  private stopping: Promise<void> | undefined;

  constructor(
    kafka: Kafka,
    private readonly admin: AdminHandle,
    private readonly cfg: KafkaConfig,
    private readonly opts: SubscriptionOptions,
    private readonly logger: Logger,
  ) {
    this.feed = new ConsumerFeed(
      kafka,
      cfg,
      { groupId: opts.groupId, topic: opts.kafkaTopic, fromBeginning: false, signal: opts.signal, stats: opts.stats },
      logger,
    );
  }

  /** Starts the group member. A group seen for the first time starts at the current end of every partition. */
  async start(): Promise<void> {
    const seeks = await this.startOffsetsIfNew();
    // Committed like handed records once assigned, so a new subscriber that leaves before its first message
    // still resumes from the moment it first subscribed.
    for (const { partition, offset } of seeks) this.handed.set(partition, offset);
    await this.feed.start(seeks);
    this.timer = setInterval(() => void this.commit(), this.cfg.consumer.commit_interval);
  }

  /** Ends the stream (Unsubscribe); the generator commits and leaves the group. */
  end(): void {
    this.feed.queue.close();
  }

  async *messages(): AsyncGenerator<PubSubMessage> {
    try {
      for await (const item of this.feed.queue) {
        if (this.feed.isCurrent(item)) {
          yield this.toMessage(item);
          this.handed.set(item.partition, item.offset + 1);
        }
        this.feed.taken();
      }
    } finally {
      await this.stop();
    }
  }

  /** Commits what was handed over and leaves the group (once; bounded by request_timeout). */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      clearInterval(this.timer);
      await this.commit();
      await this.feed.stop(this.cfg.request_timeout);
    })();
    return this.stopping;
  }

  private toMessage(item: FeedItem): PubSubMessage {
    const m = item.message;
    return {
      topic: this.opts.topic,
      payload: m.value ?? new Uint8Array(0),
      metadata: headersToMetadata(m.headers),
      messageId: `${this.opts.topic}/${item.partition}/${item.offset}`,
      timestamp: Number(m.timestamp),
    };
  }

  /** Commits what was handed since the last commit; a failure (e.g. during a rebalance) only means redelivery. */
  private commit(): Promise<void> {
    const due: [number, number][] = [];
    for (const [p, o] of this.handed) if (this.committed.get(p) !== o && this.feed.assignment.has(p)) due.push([p, o]);
    if (due.length === 0) return this.committing;
    const offsets = due.map(([partition, offset]) => ({ topic: this.opts.kafkaTopic, partition, offset: String(offset) }));
    this.committing = this.committing.then(async () => {
      try {
        await this.feed.consumer.commitOffsets(offsets);
        for (const [p, o] of due) this.committed.set(p, o);
      } catch (err) {
        this.logger.debug("kafka offset commit failed; those records may be delivered again", { group: this.opts.groupId, error: (err as Error).message });
      }
    });
    return this.committing;
  }

  /**
   * Without this a new group would start wherever the broker's reset policy puts it when the member is
   * first assigned partitions, losing what is published in between: a group with no committed offsets
   * starts at the end offsets as they are now, i.e. "subscribed" means "from when Subscribe reached the pattern".
   */
  private async startOffsetsIfNew(): Promise<{ partition: number; offset: number }[]> {
    const { groupId, kafkaTopic: topic } = this.opts;
    return this.admin.useSettling("subscribe", this.cfg.request_timeout, async (admin) => {
      const committed = await admin.fetchOffsets({ groupId, topics: [topic] });
      if ((committed[0]?.partitions ?? []).some((p) => Number(p.offset) >= 0)) return [];
      const ends = await admin.fetchTopicOffsets(topic);
      return ends.map((e) => ({ partition: e.partition, offset: Number(e.high) }));
    });
  }
}
