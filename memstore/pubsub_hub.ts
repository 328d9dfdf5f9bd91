import { AsyncQueue, TopicDrops, type PubSubDriver, type PubSubMessage, type SubscribeOptions } from "@prism/sdk";

interface Member {
  queue: AsyncQueue<PubSubMessage>;
}

/** Subscribers that share a subscriber_id: each message goes to one of them, in turn. */
interface Group {
  members: Member[];
  next: number;
}

/**
 * In-process publish/subscribe. Every distinct subscriber_id on a topic gets
 * each message; members sharing an id take turns (round-robin, preferring one
 * with room in its buffer). Each member has a bounded buffer: a slow consumer
 * loses its oldest messages rather than stalling publishers or growing without
 * bound, and the losses are counted per topic. Messages published to a topic
 * without subscribers are not kept (fire and forget, as NATS core or Redis).
 */
export class PubSubHub implements PubSubDriver {
  private readonly topics = new Map<string, Map<string, Group>>();
  /** Messages dropped from full buffers, per topic for a bounded number of topics. */
  readonly drops = new TopicDrops();
  private readonly idPrefix = Date.now().toString(36);
  private seq = 0;
  private memberCount = 0;
  private publishedTotal = 0;

  constructor(readonly bufferSize: number) {}

  publish(topic: string, payload: Uint8Array, metadata: Record<string, string>, _key: string): { messageId: string } {
    const messageId = `${this.idPrefix}-${++this.seq}`;
    this.publishedTotal++;
    const groups = this.topics.get(topic);
    if (groups !== undefined) {
      const msg: PubSubMessage = { topic, payload, metadata, messageId, timestamp: Date.now() };
      for (const g of groups.values()) this.deliver(topic, g, msg);
    }
    return { messageId };
  }

  subscribe(opts: SubscribeOptions): AsyncIterable<PubSubMessage> {
    const { topic, subscriberId, signal } = opts;
    let groups = this.topics.get(topic);
    if (groups === undefined) {
      groups = new Map();
      this.topics.set(topic, groups);
    }
    let group = groups.get(subscriberId);
    if (group === undefined) {
      group = { members: [], next: 0 };
      groups.set(subscriberId, group);
    }
    const onAbort = () => void queue.return();
    const queue = new AsyncQueue<PubSubMessage>({
      capacity: this.bufferSize,
      overflow: "drop-oldest",
      // The consumer went away (cancel, break, drain): leave the group.
      onClose: () => {
        signal.removeEventListener("abort", onAbort);
        this.leave(topic, subscriberId, member);
      },
    });
    const member: Member = { queue };
    group.members.push(member);
    this.memberCount++;
    if (signal.aborted) void queue.return();
    else signal.addEventListener("abort", onAbort, { once: true });
    return queue;
  }

  /** Ends every stream subscribed under this id (after their buffered messages). */
  unsubscribe(topic: string, subscriberId: string): boolean {
    const groups = this.topics.get(topic);
    const group = groups?.get(subscriberId);
    if (groups === undefined || group === undefined) return false;
    groups.delete(subscriberId);
    if (groups.size === 0) this.topics.delete(topic);
    this.memberCount -= group.members.length;
    for (const m of group.members) m.queue.close();
    return true;
  }

  /** Counters for health details. */
  stats() {
    return {
      topics: this.topics.size,
      subscribers: this.memberCount,
      published: this.publishedTotal,
      dropped: this.drops.total,
      droppedByTopic: this.drops.byTopic,
    };
  }

  /** Messages waiting in subscriber buffers now (walks every subscriber: for scrapes and health, not per message). */
  buffered(): number {
    let n = 0;
    for (const groups of this.topics.values()) for (const g of groups.values()) for (const m of g.members) n += m.queue.size;
    return n;
  }

  /** Ends every subscription. */
  close(): void {
    for (const groups of this.topics.values()) {
      for (const g of groups.values()) for (const m of g.members) m.queue.close();
    }
    this.topics.clear();
    this.memberCount = 0;
  }

  private deliver(topic: string, g: Group, msg: PubSubMessage): void {
    const n = g.members.length;
    let chosen = g.members[g.next % n]!;
    let after = (g.next + 1) % n;
    for (let k = 0; k < n; k++) {
      const i = (g.next + k) % n;
      const m = g.members[i]!;
      if (m.queue.size < m.queue.capacity) {
        chosen = m;
        after = (i + 1) % n;
        break;
      }
    }
    g.next = after;
    const before = chosen.queue.dropped;
    chosen.queue.offer(msg);
    if (chosen.queue.dropped !== before) this.drops.add(topic);
  }

  private leave(topic: string, subscriberId: string, member: Member): void {
    const groups = this.topics.get(topic);
    const group = groups?.get(subscriberId);
    if (groups === undefined || group === undefined) return;
    const i = group.members.indexOf(member);
    if (i < 0) return;
    group.members.splice(i, 1);
    this.memberCount--;
    if (group.members.length > 0) return;
    groups.delete(subscriberId);
    if (groups.size === 0) this.topics.delete(topic);
  }
}
