import {
  type QueueConsumeOptions,
  type QueueDeadLetter,
  type QueueDeadLetterDriver,
  type QueueDeadLetterPage,
  type QueueDelivery,
  type QueueDriver,
  type QueueFeatures,
  type QueuePublished,
  type QueuePublishMessage,
  type QueueStats,
  resourceExhausted,
} from "@prism/sdk";
import { ownedBytes } from "./bytes";

interface StoredMessage {
  readonly id: string;
  readonly key: string;
  readonly payload: Uint8Array;
  readonly headers: Record<string, string>;
  readonly publishedAt: number;
}

/**
 * A message a group has seen but not yet acked: in flight, waiting (deliverable from visibleAt), or held behind an
 * earlier unacked message of its key.
 */
interface Unacked {
  readonly msg: StoredMessage;
  state: "inflight" | "waiting" | "held";
  attempt: number;
  /** While in flight: Unix ms of its ack deadline. */
  deadline: number;
  /** While waiting: deliverable from this Unix ms (nack delay). */
  visibleAt: number;
  /** Delivery number of the current or last delivery: a token names it. */
  seq: number;
  lastError: string;
}

class Group {
  /** Next log position never seen by this group. */
  next: number;
  /** Every unacked message by id. */
  readonly unacked = new Map<string, Unacked>();
  /** The subsets that can become deliverable: scanned on each take (held ones are reached through keyQueue). */
  readonly inflight = new Map<string, Unacked>();
  readonly waiting = new Map<string, Unacked>();
  /** Per key, ids of its unacked messages in publish order: only the first may be delivered (per-key order). */
  readonly keyQueue = new Map<string, string[]>();
  readonly dead = new Map<string, QueueDeadLetter>();
  readonly waiters = new Set<() => void>();
  seq = 0;
  delivered = 0;
  acked = 0;
  redelivered = 0;

  constructor(start: number) {
    this.next = start;
  }

  wake(): void {
    for (const w of this.waiters) w();
    this.waiters.clear();
  }

  setState(u: Unacked, state: Unacked["state"]): void {
    if (u.state === "inflight") this.inflight.delete(u.msg.id);
    else if (u.state === "waiting") this.waiting.delete(u.msg.id);
    u.state = state;
    if (state === "inflight") this.inflight.set(u.msg.id, u);
    else if (state === "waiting") this.waiting.set(u.msg.id, u);
  }
}

class Topic {
  /** Retained messages: log[i] is at position low + i. */
  log: StoredMessage[] = [];
  low = 0;
  readonly groups = new Map<string, Group>();
  get end(): number {
    return this.low + this.log.length;
  }
  at(pos: number): StoredMessage {
    return this.log[pos - this.low]!;
  }
}

/** Between checks for deadlines and nack delays that came due while nothing else woke a consumer. */
const RECHECK_MS = 100;

/**
 * The in-process queue (QueueDriver) of the memstore driver: topics are logs, each consumer group keeps its own
 * position and its unacked messages with their attempts, deadlines and nack delays, so deliveries, redeliveries,
 * per-key order and dead letters behave as on a real backend — but nothing survives the process.
 * A topic keeps its messages until every existing group has acked them (a group created later starts at the oldest
 * retained one), at most `maxMessages` per topic: beyond, publish is RESOURCE_EXHAUSTED.
 */
export class MemQueue implements QueueDriver, QueueDeadLetterDriver {
  readonly queueFeatures: QueueFeatures = {
    ordering: "per_key",
    batch: "native",
    durable: false,
    maxMessageSize: 64 * 1024 * 1024,
    durableStats: false,
  };
  private readonly topics = new Map<string, Topic>();
  private idCounter = 0;

  constructor(
    readonly maxMessages = 1_000_000,
    private readonly now: () => number = Date.now,
  ) {}

  async queuePublish(topicName: string, messages: QueuePublishMessage[]): Promise<QueuePublished[]> {
    const topic = this.topic(topicName);
    this.trim(topic);
    if (topic.log.length + messages.length > this.maxMessages) {
      throw resourceExhausted(`memstore queue topic ${topicName} holds ${topic.log.length} of max ${this.maxMessages} unacked messages`);
    }
    const publishedAt = this.now();
    const out: QueuePublished[] = [];
    for (const m of messages) {
      const id = String(++this.idCounter);
      topic.log.push({ id, key: m.key, payload: ownedBytes(m.payload), headers: { ...m.headers }, publishedAt });
      out.push({ messageId: id, duplicate: false });
    }
    for (const g of topic.groups.values()) g.wake();
    return out;
  }

  async *queueConsume(opts: QueueConsumeOptions): AsyncIterable<QueueDelivery> {
    const { signal } = opts;
    const topic = this.topic(opts.topic);
    const group = this.group(topic, opts.group);
    while (!signal.aborted) {
      const d = this.take(topic, group, opts.ackDeadlineMs);
      if (d) {
        yield d;
        continue;
      }
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          signal.removeEventListener("abort", done);
          group.waiters.delete(done);
          resolve();
        };
        const timer = setTimeout(done, RECHECK_MS);
        signal.addEventListener("abort", done);
        group.waiters.add(done);
      });
    }
  }

  async queueAck(topicName: string, groupName: string, tokens: string[]): Promise<boolean[]> {
    const group = this.topics.get(topicName)?.groups.get(groupName);
    const out = tokens.map((t) => {
      const u = group && this.resolve(group, t);
      if (!u || !group) return false;
      this.remove(group, u);
      group.acked++;
      return true;
    });
    group?.wake();
    return out;
  }

  async queueNack(topicName: string, groupName: string, token: string, redeliverAfterMs: number, error: string): Promise<boolean> {
    const group = this.topics.get(topicName)?.groups.get(groupName);
    const u = group && this.resolve(group, token);
    if (!u || !group || u.state !== "inflight" || token !== `${u.msg.id}.${u.seq}`) return false;
    u.visibleAt = this.now() + Math.max(0, redeliverAfterMs);
    group.setState(u, "waiting");
    if (error !== "") u.lastError = error;
    group.wake();
    return true;
  }

  async queueStats(topicName: string, groupName: string): Promise<QueueStats> {
    const topic = this.topic(topicName);
    const group = this.group(topic, groupName);
    const now = this.now();
    let inFlight = 0;
    for (const u of group.inflight.values()) if (u.deadline > now) inFlight++;
    return {
      pending: topic.end - group.next + group.unacked.size - inFlight,
      inFlight,
      deliveredTotal: group.delivered,
      ackedTotal: group.acked,
      redeliveredTotal: group.redelivered,
    };
  }

  async queueDeadLetter(topicName: string, groupName: string, delivery: QueueDelivery, lastError: string): Promise<void> {
    const group = this.group(this.topic(topicName), groupName);
    const u = group.unacked.get(delivery.messageId);
    if (u) this.remove(group, u);
    if (group.dead.has(delivery.messageId)) return;
    group.dead.set(delivery.messageId, {
      messageId: delivery.messageId,
      key: delivery.key,
      payload: delivery.payload,
      headers: delivery.headers,
      publishedAt: delivery.publishedAt,
      attempts: delivery.attempt - 1,
      lastError,
      deadLetteredAt: this.now(),
    });
    group.wake();
  }

  async queueDeadLetters(topicName: string, groupName: string, limit: number, cursor: string): Promise<QueueDeadLetterPage> {
    const group = this.topics.get(topicName)?.groups.get(groupName);
    if (!group) return { entries: [], nextCursor: "" };
    const all = [...group.dead.values()];
    const start = cursor === "" ? 0 : all.findIndex((d) => d.messageId === cursor);
    if (start < 0) return { entries: [], nextCursor: "" };
    const entries = all.slice(start, start + limit);
    return { entries, nextCursor: all[start + limit]?.messageId ?? "" };
  }

  async queueRedrive(topicName: string, groupName: string, messageIds: string[]): Promise<number> {
    const group = this.topics.get(topicName)?.groups.get(groupName);
    if (!group) return 0;
    const ids = messageIds.length === 0 ? [...group.dead.keys()] : messageIds;
    let n = 0;
    for (const id of ids) {
      const d = group.dead.get(id);
      if (!d) continue;
      group.dead.delete(id);
      const msg: StoredMessage = { id, key: d.key, payload: d.payload, headers: d.headers, publishedAt: d.publishedAt };
      this.admit(group, { msg, state: "held", attempt: 0, deadline: 0, visibleAt: 0, seq: 0, lastError: "" });
      n++;
    }
    group.wake();
    return n;
  }

  async queueDeadLetterCount(topicName: string, groupName: string): Promise<number> {
    return this.topics.get(topicName)?.groups.get(groupName)?.dead.size ?? 0;
  }

  /** Messages retained and groups, for health details. */
  queueSizes(): { topics: number; messages: number } {
    let messages = 0;
    for (const t of this.topics.values()) messages += t.log.length;
    return { topics: this.topics.size, messages };
  }

  close(): void {
    for (const t of this.topics.values()) for (const g of t.groups.values()) g.wake();
    this.topics.clear();
  }

  private topic(name: string): Topic {
    let t = this.topics.get(name);
    if (!t) {
      t = new Topic();
      this.topics.set(name, t);
    }
    return t;
  }

  private group(topic: Topic, name: string): Group {
    let g = topic.groups.get(name);
    if (!g) {
      g = new Group(topic.low);
      topic.groups.set(name, g);
    }
    return g;
  }

  /** The next deliverable message of the group, now in flight; undefined when none is. */
  private take(topic: Topic, group: Group, ackDeadlineMs: number): QueueDelivery | undefined {
    const now = this.now();
    for (const u of group.inflight.values()) if (u.deadline <= now) return this.deliver(group, u, now, ackDeadlineMs);
    for (const u of group.waiting.values()) if (u.visibleAt <= now) return this.deliver(group, u, now, ackDeadlineMs);
    while (group.next < topic.end) {
      const msg = topic.at(group.next++);
      const u: Unacked = { msg, state: "held", attempt: 0, deadline: 0, visibleAt: 0, seq: 0, lastError: "" };
      this.admit(group, u);
      if (u.state === "waiting") return this.deliver(group, u, now, ackDeadlineMs);
    }
    return undefined;
  }

  private deliver(group: Group, u: Unacked, now: number, ackDeadlineMs: number): QueueDelivery {
    if (u.attempt > 0) group.redelivered++;
    group.delivered++;
    u.attempt++;
    u.seq = ++group.seq;
    u.deadline = now + ackDeadlineMs;
    group.setState(u, "inflight");
    const m = u.msg;
    return {
      messageId: m.id,
      key: m.key,
      payload: m.payload,
      headers: m.headers,
      publishedAt: m.publishedAt,
      attempt: u.attempt,
      token: `${m.id}.${u.seq}`,
      lastError: u.lastError,
    };
  }

  /** Adds a message the group has not got unacked; it waits at once unless an earlier message of its key is unacked. */
  private admit(group: Group, u: Unacked): void {
    group.unacked.set(u.msg.id, u);
    const q = u.msg.key === "" ? undefined : group.keyQueue.get(u.msg.key);
    if (q) {
      q.push(u.msg.id);
      return;
    }
    if (u.msg.key !== "") group.keyQueue.set(u.msg.key, [u.msg.id]);
    group.setState(u, "waiting");
  }

  /** Forgets an unacked message (acked or dead-lettered); the next of its key may then be delivered. */
  private remove(group: Group, u: Unacked): void {
    group.unacked.delete(u.msg.id);
    group.setState(u, "held");
    if (u.msg.key === "") return;
    const q = group.keyQueue.get(u.msg.key);
    if (!q) return;
    const wasHead = q[0] === u.msg.id;
    const i = q.indexOf(u.msg.id);
    if (i >= 0) q.splice(i, 1);
    if (q.length === 0) {
      group.keyQueue.delete(u.msg.key);
      return;
    }
    if (wasHead) {
      const next = group.unacked.get(q[0]!)!;
      next.visibleAt = 0;
      group.setState(next, "waiting");
    }
  }

  /** The unacked message a token names (any of its deliveries: at least once). */
  private resolve(group: Group, token: string): Unacked | undefined {
    const dot = token.lastIndexOf(".");
    if (dot <= 0) return undefined;
    const u = group.unacked.get(token.slice(0, dot));
    return u && u.attempt > 0 ? u : undefined;
  }

  /** Forgets messages every group has moved past. */
  private trim(topic: Topic): void {
    if (topic.groups.size === 0) return;
    let floor = topic.end;
    for (const g of topic.groups.values()) floor = Math.min(floor, g.next);
    const drop = floor - topic.low;
    if (drop < 1024 && drop < topic.log.length) return;
    topic.log = topic.log.slice(drop);
    topic.low = floor;
  }
}
