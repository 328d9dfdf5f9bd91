import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { AsyncQueue, TopicDrops, type WriteOptions, type PubSubDriver, type PubSubMessage, type SubscribeOptions, type Logger } from "@prism/sdk";
import { randomBytes } from "node:crypto";
import { MessageSchema } from "../proto/gen/prism/interfaces/pubsub/pubsub_basic_pb";
import type { RedisContext } from "./context";

/** Local streams that share one subscriber id: each message goes to one of them, in turn. */
interface Group {
  readonly members: AsyncQueue<PubSubMessage>[];
  next: number;
}

/** One Redis channel this process listens to, and the local groups reading it. */
interface Topic {
  readonly groups: Map<string, Group>;
  /** Settles when Redis has confirmed the SUBSCRIBE. */
  readonly subscribed: Promise<unknown>;
}

/**
 * Pub/sub on Redis PUBLISH/SUBSCRIBE, over a dedicated subscriber connection. A message travels as a serialized
 * prism Message (topic, payload, metadata, id, timestamp). Like the in-memory pattern, every distinct subscriber
 * id gets each message and streams sharing an id take turns; Redis itself only fans out, so the sharing happens
 * per process: two pattern processes with subscribers of the same id each deliver a copy. Delivery is at most
 * once (Redis pub/sub keeps nothing for a subscriber that is away), and each stream buffers a bounded number of
 * messages, dropping the oldest when its reader falls behind.
 */
export class RedisPubSub implements PubSubDriver {
  private readonly topics = new Map<string, Topic>();
  private readonly idPrefix = randomBytes(6).toString("base64url");
  private sequence = 0;
  private listening = false;
  /** Messages dropped from full stream buffers since start, per topic for a bounded number of topics. */
  readonly drops = new TopicDrops();

  constructor(
    private readonly ctx: RedisContext,
    private readonly bufferSize: number,
    private readonly logger: Logger,
  ) {}

  async publish(topic: string, payload: Uint8Array, metadata: Record<string, string>, _key = "", write?: WriteOptions): Promise<{ messageId: string }> {
    const messageId = `${this.idPrefix}-${++this.sequence}`;
    const envelope = toBinary(MessageSchema, create(MessageSchema, { topic, payload, metadata, messageId, timestamp: BigInt(Date.now()) }));
    const { client } = this.ctx.conn;
    const channel = this.ctx.prefix + topic;
    const message = Buffer.from(envelope.buffer, envelope.byteOffset, envelope.byteLength);
    if (write?.idempotencyKey) {
      // The marker holds the message id: a retry is not published again and gets the first publish's id.
      const marker = `{prism-idempotency}:${channel}:${write.idempotencyKey}`;
      const id = await this.ctx.guard.write(() => client.eval(PUBLISH_ONCE, 1, marker, write.windowMs, messageId, channel, message));
      return { messageId: String(id) };
    }
    await this.ctx.guard.write(() => client.publish(channel, message));
    return { messageId };
  }

  async *subscribe(opts: SubscribeOptions): AsyncIterable<PubSubMessage> {
    const channel = this.ctx.prefix + opts.topic;
    const queue = new AsyncQueue<PubSubMessage>({ capacity: this.bufferSize, overflow: "drop-oldest" });
    const end = () => queue.close();
    opts.signal.addEventListener("abort", end, { once: true });
    try {
      await this.join(channel, opts.subscriberId, queue);
      if (opts.signal.aborted) return;
      yield* queue;
    } finally {
      opts.signal.removeEventListener("abort", end);
      this.leave(channel, opts.subscriberId, queue);
    }
  }

  unsubscribe(topic: string, subscriberId: string): boolean {
    const channel = this.ctx.prefix + topic;
    const t = this.topics.get(channel);
    const group = t?.groups.get(subscriberId);
    if (!t || !group) return false;
    t.groups.delete(subscriberId);
    for (const q of group.members) q.close();
    if (t.groups.size === 0) this.forget(channel);
    return true;
  }

  /** Messages dropped from full stream buffers since start. */
  get dropped(): number {
    return this.drops.total;
  }

  /** Messages waiting in stream buffers now (walks every stream: for scrapes and health, not per message). */
  buffered(): number {
    let n = 0;
    for (const t of this.topics.values()) for (const g of t.groups.values()) for (const q of g.members) n += q.size;
    return n;
  }

  /** Ends every stream (on close). */
  closeAll(): void {
    for (const t of this.topics.values()) for (const g of t.groups.values()) for (const q of g.members) q.close();
    this.topics.clear();
  }

  private async join(channel: string, subscriberId: string, queue: AsyncQueue<PubSubMessage>): Promise<void> {
    let t = this.topics.get(channel);
    if (!t) {
      const subscribed = this.ctx.guard.write(async () => (await this.listen()).subscribe(channel));
      const topic: Topic = { groups: new Map(), subscribed };
      // A failed SUBSCRIBE must not stay cached: the next Subscribe tries again.
      subscribed.catch(() => this.topics.get(channel) === topic && this.topics.delete(channel));
      this.topics.set(channel, (t = topic));
    }
    let group = t.groups.get(subscriberId);
    if (!group) t.groups.set(subscriberId, (group = { members: [], next: 0 }));
    group.members.push(queue);
    await t.subscribed;
  }

  private leave(channel: string, subscriberId: string, queue: AsyncQueue<PubSubMessage>): void {
    const t = this.topics.get(channel);
    const group = t?.groups.get(subscriberId);
    if (!t || !group) return;
    const i = group.members.indexOf(queue);
    if (i >= 0) group.members.splice(i, 1);
    if (group.members.length === 0) t.groups.delete(subscriberId);
    if (t.groups.size === 0) this.forget(channel);
  }

  /** Stops listening to a channel no local stream reads any more. */
  private forget(channel: string): void {
    this.topics.delete(channel);
    // Sent in order after the SUBSCRIBE on the same connection; failures only leave a channel nobody reads.
    this.ctx.conn
      .subscriber()
      .unsubscribe(channel)
      .catch(() => undefined);
  }

  private async listen() {
    const sub = await this.ctx.conn.readySubscriber();
    if (!this.listening) {
      this.listening = true;
      sub.on("messageBuffer", (channel: Buffer, message: Buffer) => this.dispatch(channel.toString(), message));
    }
    return sub;
  }

  private dispatch(channel: string, raw: Buffer): void {
    const t = this.topics.get(channel);
    if (!t) return;
    let m;
    try {
      m = fromBinary(MessageSchema, raw);
    } catch (err) {
      this.logger.warn("ignoring a message that is not a prism envelope", { channel, error: (err as Error).message });
      return;
    }
    const msg: PubSubMessage = { topic: m.topic, payload: m.payload, metadata: m.metadata, messageId: m.messageId, timestamp: Number(m.timestamp) };
    for (const group of t.groups.values()) this.deliver(group, msg);
  }

  /** Round-robin within a group, skipping members whose buffer is full while another has room. */
  private deliver(group: Group, msg: PubSubMessage): void {
    const n = group.members.length;
    if (n === 0) return;
    let pick = group.next % n;
    for (let k = 0; k < n; k++) {
      const i = (group.next + k) % n;
      if (group.members[i]!.size < this.bufferSize) {
        pick = i;
        break;
      }
    }
    group.next = pick + 1;
    const q = group.members[pick]!;
    const before = q.dropped;
    q.offer(msg);
    if (q.dropped !== before) this.drops.add(msg.topic);
  }
}

/** PUBLISH ARGV[3] ARGV[4] unless marker KEYS[1] exists (it then holds the first publish's message id). */
const PUBLISH_ONCE = `if redis.call('SET', KEYS[1], ARGV[2], 'NX', 'PX', ARGV[1]) then
  redis.call('PUBLISH', ARGV[3], ARGV[4])
  return ARGV[2]
end
return redis.call('GET', KEYS[1])`;
