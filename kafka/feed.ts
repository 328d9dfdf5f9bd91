import type { Consumer, Kafka, KafkaMessage } from "kafkajs";
import { AsyncQueue, type Logger } from "@prism/sdk";
import type { KafkaConfig } from "./config";
import { toPrismError } from "./errors";

/** One record on its way from a kafkajs consumer to a gRPC stream. */
export interface FeedItem {
  partition: number;
  offset: number;
  message: KafkaMessage;
  /** Group generation the record was fetched in; records of older generations are fetched again. */
  generation: number;
}

/**
 * Counters every feed of a driver adds to, and its live feeds (Subscribe and Read streams), for health
 * details and the prism_flow_control_* / prism_subscriber_buffered_messages metrics.
 */
export class FlowStats {
  /** Times a partition was paused because a subscriber's buffer was full. */
  pauses = 0;
  /** Buffered records skipped after a rebalance (they are fetched again by the partition's new owner). */
  staleSkipped = 0;
  /** Consumer restarts after a broker failure. */
  restarts = 0;
  /** Feeds from construction until stop(). */
  readonly live = new Set<ConsumerFeed>();

  /** Records buffered now, over every live feed. */
  buffered(): number {
    let n = 0;
    for (const f of this.live) n += f.queue.size;
    return n;
  }

  /** Partitions paused by flow control now, over every live feed. */
  pausedPartitions(): number {
    let n = 0;
    for (const f of this.live) n += f.pausedCount;
    return n;
  }
}

export interface FeedOptions {
  groupId: string;
  topic: string;
  /** New groups start at the beginning (stream reads) or at the end (pub/sub); committed offsets win. */
  fromBeginning: boolean;
  /** Deliver only this partition (stream reads); others are paused as soon as they show up. */
  onlyPartition?: number;
  signal: AbortSignal;
  stats: FlowStats;
  /**
   * When the buffer is full: "pause" the partition (kafkajs drops the rest of its batch and fetches it again on
   * resume: the reader may stay away for long without holding a fetch), or "wait" in eachMessage, heartbeating,
   * until the reader takes one (kafkajs keeps the fetched batch and fetches nothing else meanwhile: no refetch
   * and no idle fetch wait per pause, for a reader that takes steadily, like a queue group).
   */
  whenFull?: "pause" | "wait";
  /**
   * Bytes one fetch asks for (kafkajs's default: 10 MiB, 1 MiB per partition). Under "wait" the fetched batch is
   * held while the reader is behind, so this bounds what a stalled reader keeps; a record larger than it still comes.
   */
  fetchMaxBytes?: number;
}

/**
 * A kafkajs consumer feeding a bounded queue, with flow control: when the queue holds `consumer.buffer`
 * records the partition that just delivered is paused (kafkajs stops fetching it and refetches from the
 * first unprocessed offset on resume); it resumes once the reader has taken the queue down to half.
 * If kafkajs still delivers (records of a batch already in flight), the queue grows to at most twice
 * the buffer, after which eachMessage waits (heartbeating) — memory stays bounded whatever the client does.
 * With `whenFull: "wait"` there is no pause: eachMessage waits as soon as the queue holds twice the buffer.
 */
export class ConsumerFeed {
  readonly queue: AsyncQueue<FeedItem>;
  readonly consumer: Consumer;
  private generationId = 0;
  private assigned = new Set<number>();
  private readonly paused = new Set<number>();
  private readonly highWater: number;

  constructor(
    kafka: Kafka,
    private readonly cfg: KafkaConfig,
    private readonly opts: FeedOptions,
    private readonly logger: Logger,
  ) {
    this.highWater = cfg.consumer.buffer;
    this.queue = new AsyncQueue<FeedItem>({ capacity: this.highWater * 2, overflow: "block", signal: opts.signal });
    this.consumer = kafka.consumer({
      groupId: opts.groupId,
      sessionTimeout: cfg.consumer.session_timeout,
      heartbeatInterval: cfg.consumer.heartbeat_interval,
      rebalanceTimeout: cfg.consumer.rebalance_timeout,
      maxWaitTimeInMs: cfg.consumer.max_wait,
      ...(opts.fetchMaxBytes ? { maxBytes: opts.fetchMaxBytes, maxBytesPerPartition: opts.fetchMaxBytes } : {}),
      allowAutoTopicCreation: false,
      retry: { retries: cfg.retry.retries, initialRetryTime: cfg.retry.initial_retry_time, maxRetryTime: cfg.retry.max_retry_time },
    });
    const { GROUP_JOIN, CRASH } = this.consumer.events;
    this.consumer.on(GROUP_JOIN, (e) => {
      this.generationId++;
      this.assigned = new Set(e.payload.memberAssignment[opts.topic] ?? []);
      // What is buffered now is stale (fetched again from committed offsets): start unpaused, and let
      // eachMessage pause again once the new generation fills the queue.
      this.resumeAll();
    });
    this.consumer.on(CRASH, (e) => {
      if (e.payload.restart) {
        opts.stats.restarts++;
        this.logger.debug("kafka consumer restarting after a failure", { group: opts.groupId, error: e.payload.error.message });
      } else {
        this.queue.fail(toPrismError(e.payload.error, "consume"));
      }
    });
    opts.stats.live.add(this);
  }

  /** Current group generation (bumped on every join). */
  get generation(): number {
    return this.generationId;
  }

  /** Partitions assigned to this member in the current generation. */
  get assignment(): ReadonlySet<number> {
    return this.assigned;
  }

  /** Partitions paused for flow control right now. */
  get pausedCount(): number {
    return this.paused.size;
  }

  /**
   * Joins the group and starts fetching, from `seeks` where given: they are registered before the join
   * completes, so the first fetch already starts there.
   */
  async start(seeks: readonly { partition: number; offset: number }[] = []): Promise<void> {
    const { topic, fromBeginning, onlyPartition } = this.opts;
    await this.consumer.connect();
    await this.consumer.subscribe({ topics: [topic], fromBeginning });
    const running = this.consumer.run({
      autoCommit: false,
      partitionsConsumedConcurrently: 1,
      eachMessage: async ({ partition, message, heartbeat }) => {
        if (onlyPartition !== undefined && partition !== onlyPartition) {
          this.consumer.pause([{ topic, partitions: [partition] }]);
          return;
        }
        const item: FeedItem = { partition, offset: Number(message.offset), message, generation: this.generationId };
        if (this.opts.whenFull !== "wait" && this.queue.size + 1 >= this.highWater && !this.paused.has(partition)) {
          this.paused.add(partition);
          this.opts.stats.pauses++;
          this.consumer.pause([{ topic, partitions: [partition] }]);
        }
        if (this.queue.offer(item) || this.queue.closed) return;
        // Full even at twice the buffer: wait for room, but keep the group session alive meanwhile. (The queue
        // aborts with opts.signal itself, refusing this push; the timer is cleared: under "wait" this is the
        // path of every record while the reader is behind.)
        const accepted = this.queue.push(item).then(
          () => true,
          () => true,
        );
        for (;;) {
          let timer: ReturnType<typeof setTimeout> | undefined;
          const done = await Promise.race([accepted, new Promise<false>((r) => (timer = setTimeout(r, this.cfg.consumer.heartbeat_interval, false)))]);
          clearTimeout(timer);
          if (done) return;
          await heartbeat();
        }
      },
    });
    // run() creates its consumer group synchronously before joining, so seeking here precedes any fetch.
    for (const { partition, offset } of seeks) this.consumer.seek({ topic, partition, offset: String(offset) });
    await running;
  }

  /** Called by the reader after taking an item: resumes paused partitions once the queue is down to half. */
  taken(): void {
    if (this.paused.size === 0 || this.queue.size > this.highWater / 2) return;
    this.resumeAll();
  }

  private resumeAll(): void {
    if (this.paused.size === 0) return;
    this.consumer.resume([{ topic: this.opts.topic, partitions: [...this.paused] }]);
    this.paused.clear();
  }

  /** True when the item belongs to the current generation and partition assignment. */
  isCurrent(item: FeedItem): boolean {
    if (item.generation === this.generationId && this.assigned.has(item.partition)) return true;
    this.opts.stats.staleSkipped++;
    return false;
  }

  /** Leaves the group (bounded: a dead broker must not hold the caller). */
  async stop(timeoutMs: number): Promise<void> {
    this.opts.stats.live.delete(this);
    this.queue.close();
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([this.consumer.disconnect().catch(() => undefined), new Promise<void>((r) => (timer = setTimeout(r, timeoutMs)))]);
    clearTimeout(timer);
  }
}
