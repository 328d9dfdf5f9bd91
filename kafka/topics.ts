import { invalidArgument } from "@prism/sdk";
import { type AdminHandle, whileUnavailable } from "./admin";
import { TOPIC_NAME, type KafkaConfig } from "./config";
import { isUnknownTopic } from "./errors";

/** Longest Kafka topic name. */
const MAX_TOPIC_LENGTH = 249;

/**
 * Maps Prism topic and stream names to Kafka topics (`<namespace>.<name>`; namespaces hold no '.' or '_'
 * (see NAMESPACE_NAME), so the first '.' ends the namespace and namespaces sharing a cluster never see
 * each other's data, nor collide under Kafka's '.'/'_' rule) and creates each topic on first use with the configured partitions,
 * replication factor and max.message.bytes. A Prism topic and a Prism stream of the same name are the same
 * Kafka topic, so a stream can replay what was published.
 */
export class Topics {
  private readonly partitionCounts = new Map<string, number>();
  private readonly pending = new Map<string, Promise<number>>();

  constructor(
    private readonly admin: AdminHandle,
    private readonly cfg: KafkaConfig,
    readonly namespace: string,
  ) {}

  /** The Kafka topic of a Prism name; INVALID_ARGUMENT for names Kafka cannot hold. */
  kafkaTopic(name: string): string {
    if (!TOPIC_NAME.test(name)) throw invalidArgument(`"${name}" is not a valid Kafka topic name: use letters, digits, '.', '_' and '-'`);
    const topic = `${this.namespace}.${name}`;
    if (topic.length > MAX_TOPIC_LENGTH)
      throw invalidArgument(`topic name "${name}" is too long for Kafka (at most ${MAX_TOPIC_LENGTH - this.namespace.length - 1} characters)`);
    return topic;
  }

  /** Creates the topic if it does not exist and returns its partition count (cached). */
  ensure(topic: string): Promise<number> {
    const known = this.partitionCounts.get(topic);
    if (known !== undefined) return Promise.resolve(known);
    let p = this.pending.get(topic);
    if (!p) {
      p = this.create(topic).finally(() => this.pending.delete(topic));
      this.pending.set(topic, p);
    }
    return p;
  }

  /** Forgets what is cached about a topic (e.g. after it was deleted behind the pattern's back). */
  forget(topic: string): void {
    this.partitionCounts.delete(topic);
  }

  /**
   * Runs `fn` with the topic's partition count (creating the topic if needed). When the topic turns out not
   * to exist (deleted behind the pattern's back) its cached count is forgotten, so the next call creates it
   * again instead of failing until a restart.
   */
  async use<T>(topic: string, fn: (partitions: number) => Promise<T>): Promise<T> {
    try {
      return await fn(await this.ensure(topic));
    } catch (err) {
      if (isUnknownTopic(err)) this.forget(topic);
      throw err;
    }
  }

  /**
   * createTopics' waitForLeaders only waits for the controller to elect leaders; the brokers may answer
   * "not the leader" or "does not host this topic-partition" for a moment longer (to ListOffsets and to
   * Metadata alike), which kafkajs's short retries would turn into UNAVAILABLE for the first calls on a new
   * topic. So each step is tried again (within request_timeout) until a ListOffsets and a Metadata succeed.
   */
  private async create(topic: string): Promise<number> {
    const count = await this.admin.use("create topic", async (admin) => {
      const deadline = Date.now() + this.cfg.request_timeout;
      await whileUnavailable(deadline, () =>
        admin.createTopics({
          waitForLeaders: true,
          topics: [
            {
              topic,
              numPartitions: this.cfg.partitions,
              replicationFactor: this.cfg.replication_factor,
              configEntries: [{ name: "max.message.bytes", value: String(this.cfg.max_message_bytes) }],
            },
          ],
        }),
      );
      await whileUnavailable(deadline, () => admin.fetchTopicOffsets(topic));
      const md = await whileUnavailable(deadline, () => admin.fetchTopicMetadata({ topics: [topic] }));
      return md.topics[0]?.partitions.length ?? 0;
    });
    if (count > 0) this.partitionCounts.set(topic, count);
    return count;
  }
}
