import { randomUUID } from "node:crypto";
import type { Kafka } from "kafkajs";
import { invalidArgument, type StreamReadOptions, type StreamRecordData, type Logger } from "@prism/sdk";
import type { AdminHandle } from "./admin";
import type { KafkaConfig } from "./config";
import { ConsumerFeed, type FlowStats } from "./feed";
import { headersToMetadata } from "./headers";
import type { Topics } from "./topics";

/** Partition offsets as numbers: low = first readable, high = next to be written. */
export interface PartitionRange {
  low: number;
  high: number;
}

/**
 * Stream reads and trims on Kafka partitions. kafkajs has no group-less consumer, so each Read is a
 * throw-away consumer group of one member (it commits nothing, so the broker forgets it once it leaves)
 * that seeks to the start offset and reads the one partition asked for.
 */
export class StreamReader {
  /** Consumers of the Reads in progress, stopped by close(). */
  private readonly open = new Set<ConsumerFeed>();

  constructor(
    private readonly kafka: Kafka,
    private readonly admin: AdminHandle,
    private readonly topics: Topics,
    private readonly cfg: KafkaConfig,
    private readonly stats: FlowStats,
    private readonly logger: Logger,
  ) {}

  /** The readable range of one partition. */
  async range(topic: string, partition: number): Promise<PartitionRange> {
    const offsets = await this.admin.use("stream offsets", (admin) => admin.fetchTopicOffsets(topic));
    const p = offsets.find((o) => o.partition === partition);
    if (!p) throw invalidArgument(`partition ${partition} does not exist`);
    return { low: Number(p.low), high: Number(p.high) };
  }

  /** Checks a partition number against the topic (creating the topic if needed) and answers its readable range. */
  private rangeOf(topic: string, partition: number): Promise<PartitionRange> {
    return this.topics.use(topic, (count) => {
      if (partition < 0 || partition >= count) throw invalidArgument(`partition ${partition} does not exist (the stream has ${count})`);
      return this.range(topic, partition);
    });
  }

  /** First offset at or after a time, or the end of the partition when nothing is that recent. */
  private async offsetAt(topic: string, partition: number, timestamp: number, high: number): Promise<number> {
    const found = await this.admin.use("stream offsets by time", (admin) => admin.fetchTopicOffsetsByTimestamp(topic, timestamp));
    const o = Number(found.find((f) => f.partition === partition)?.offset ?? -1);
    return o >= 0 ? o : high;
  }

  async *read(opts: StreamReadOptions): AsyncGenerator<StreamRecordData> {
    const topic = this.topics.kafkaTopic(opts.stream);
    const { low, high } = await this.rangeOf(topic, opts.partition);
    let from = opts.fromTimestamp > 0 ? await this.offsetAt(topic, opts.partition, opts.fromTimestamp, high) : opts.fromOffset;
    from = Math.max(from, low);
    // Without follow the read ends at the end of the partition as it was when the call arrived.
    if (!opts.follow && from >= high) return;
    const feed = new ConsumerFeed(
      this.kafka,
      this.cfg,
      { groupId: `prism-read-${randomUUID()}`, topic, fromBeginning: true, onlyPartition: opts.partition, signal: opts.signal, stats: this.stats },
      this.logger,
    );
    this.open.add(feed);
    let delivered = 0;
    let next = from;
    try {
      await feed.start([{ partition: opts.partition, offset: from }]);
      for await (const item of feed.queue) {
        // Records seen twice (a consumer restart refetches) are skipped by offset.
        if (item.offset < next) {
          feed.taken();
          continue;
        }
        next = item.offset + 1;
        const m = item.message;
        yield {
          stream: opts.stream,
          partition: item.partition,
          offset: item.offset,
          payload: m.value ?? new Uint8Array(0),
          metadata: headersToMetadata(m.headers),
          key: m.key ? m.key.toString("utf8") : "",
          timestamp: Number(m.timestamp),
        };
        feed.taken();
        if (opts.maxRecords > 0 && ++delivered >= opts.maxRecords) return;
        if (!opts.follow && next >= high) return;
      }
    } finally {
      this.open.delete(feed);
      await feed.stop(this.cfg.request_timeout);
    }
  }

  /** Ends every Read in progress (their streams finish) and waits, bounded by request_timeout, for their consumers to leave. */
  async close(): Promise<void> {
    const feeds = [...this.open];
    this.open.clear();
    await Promise.all(feeds.map((f) => f.stop(this.cfg.request_timeout)));
  }

  /** Deletes records before `beforeOffset` (clamped to the end) and returns the first readable offset. */
  async trim(stream: string, partition: number, beforeOffset: number): Promise<number> {
    const topic = this.topics.kafkaTopic(stream);
    const { low, high } = await this.rangeOf(topic, partition);
    const target = Math.min(beforeOffset, high);
    if (target <= low) return low;
    await this.admin.use("trim", (admin) => admin.deleteTopicRecords({ topic, partitions: [{ partition, offset: String(target) }] }));
    return (await this.range(topic, partition)).low;
  }
}
