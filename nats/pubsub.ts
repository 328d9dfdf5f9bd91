import { nuid, type Msg, type NatsConnection } from "nats";
import { AsyncQueue, TopicDrops, invalidArgument, unavailable, type PubSubMessage, type SubscribeOptions, type Logger } from "@prism/sdk";
import type { NatsConfig } from "./config";
import type { NatsConnector } from "./connection";
import { headerBytes, ID_HEADER, metadataOf, TIME_HEADER, toHeaders } from "./headers";
import { toPrismError } from "./errors";
import { checkQueueName, type Subjects } from "./subjects";

interface Live {
  queue: AsyncQueue<Msg>;
  end(): void;
}

/**
 * Pub/sub on core NATS: one subject per topic, every subscription in the queue group named by its
 * subscriber id (a shared id splits the messages, distinct ids each get all of them).
 *
 * Core NATS has no back-pressure: the server pushes and a client that does not keep up is cut off as a
 * slow consumer. So each subscription has a bounded buffer between the NATS callback and the gRPC stream;
 * when a gRPC client reads slower than messages arrive the buffer fills and the OLDEST buffered messages are
 * dropped (newest kept), counted per topic in `drops` (health detail `dropped_messages_total`, metric
 * prism_subscriber_dropped_messages_total) and logged at warn.
 */
export class NatsPubSub {
  private readonly live = new Map<string, Set<Live>>();
  /** Messages dropped from full subscription buffers since start, per topic for a bounded number of topics. */
  readonly drops = new TopicDrops();
  /** The flush in flight, and the one publishes made since it started will wait for. */
  private flushInFlight = false;
  private nextFlush: { promise: Promise<void>; resolve: () => void; reject: (e: unknown) => void } | undefined;

  constructor(
    private readonly conn: NatsConnector,
    private readonly subjects: Subjects,
    private readonly cfg: NatsConfig,
    private readonly logger: Logger,
  ) {}

  /**
   * Publishes and waits until the server has the message: a PING sent after it is answered, so success
   * means the server received it. Flushes are group-committed: publishes made while a flush is in flight
   * share the next one, so a burst costs two round trips, not one PING each.
   * A failure does not prove the message was lost: the server may have received it before the connection
   * died and the PONG with it, so a client that retries can cause a duplicate (see README, Failures).
   */
  async publish(topic: string, payload: Uint8Array, metadata: Record<string, string>): Promise<{ messageId: string }> {
    const subject = this.subjects.topic(topic);
    const nc = this.conn.current();
    const messageId = nuid.next();
    const headers = toHeaders(metadata, { [ID_HEADER]: messageId, [TIME_HEADER]: String(Date.now()) });
    const size = payload.byteLength + headerBytes(headers);
    if (size > nc.info!.max_payload) {
      throw invalidArgument(`message of ${size} bytes (payload and headers) is over the NATS server's max_payload of ${nc.info!.max_payload}`);
    }
    nc.publish(subject, payload, { headers });
    await this.flushed(nc);
    return { messageId };
  }

  private flushed(nc: NatsConnection): Promise<void> {
    let next = this.nextFlush;
    if (!next) {
      let resolve!: () => void;
      let reject!: (e: unknown) => void;
      const promise = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
      next = this.nextFlush = { promise, resolve, reject };
      if (!this.flushInFlight) this.startFlush(nc);
    }
    return next.promise;
  }

  /** Sends the PING that confirms every publish made before it; the next waiting flush starts when it returns. */
  private startFlush(nc: NatsConnection): void {
    const waiting = this.nextFlush!;
    this.nextFlush = undefined;
    this.flushInFlight = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    Promise.race([
      nc.flush(),
      new Promise<never>(
        (_, reject) =>
          (timer = setTimeout(() => reject(unavailable(`nats timed out: no confirmation within ${this.cfg.request_timeout} ms`)), this.cfg.request_timeout)),
      ),
    ])
      .then(waiting.resolve, (err) => waiting.reject(toPrismError(err, "publish")))
      .finally(() => {
        clearTimeout(timer);
        this.flushInFlight = false;
        if (this.nextFlush) this.startFlush(nc);
      });
  }

  async *subscribe(opts: SubscribeOptions): AsyncGenerator<PubSubMessage> {
    const subject = this.subjects.topic(opts.topic);
    checkQueueName(opts.subscriberId);
    const nc = this.conn.current();
    let warnedAt = 0;
    const queue = new AsyncQueue<Msg>({ capacity: this.cfg.subscriber_buffer, overflow: "drop-oldest", signal: opts.signal });
    const sub = nc.subscribe(subject, {
      queue: opts.subscriberId,
      callback: (err, msg) => {
        if (err) {
          queue.fail(unavailable(`nats subscription failed: ${err.message}`));
          return;
        }
        const before = queue.dropped;
        queue.offer(msg);
        if (queue.dropped === before) return;
        this.drops.add(opts.topic, queue.dropped - before);
        if (Date.now() - warnedAt > 10_000) {
          warnedAt = Date.now();
          this.logger.warn("slow subscriber: dropping oldest buffered messages", {
            topic: opts.topic,
            subscriber_id: opts.subscriberId,
            dropped: queue.dropped,
            buffer: this.cfg.subscriber_buffer,
          });
        }
      },
    });
    const key = `${opts.topic}\0${opts.subscriberId}`;
    const entry: Live = { queue, end: () => queue.close() };
    let set = this.live.get(key);
    if (!set) this.live.set(key, (set = new Set()));
    set.add(entry);
    try {
      for await (const m of queue) yield this.toMessage(opts.topic, m);
    } finally {
      sub.unsubscribe();
      set.delete(entry);
      if (set.size === 0 && this.live.get(key) === set) this.live.delete(key);
    }
  }

  private toMessage(topic: string, m: Msg): PubSubMessage {
    const h = m.headers;
    const time = Number(h?.get(TIME_HEADER));
    return {
      topic,
      payload: m.data,
      metadata: metadataOf(h),
      // Messages from plain NATS publishers carry neither header.
      messageId: h?.get(ID_HEADER) || nuid.next(),
      timestamp: time > 0 ? time : Date.now(),
    };
  }

  /** Ends this process's subscriptions of (topic, subscriber id). */
  unsubscribe(topic: string, subscriberId: string): boolean {
    const set = this.live.get(`${topic}\0${subscriberId}`);
    if (!set || set.size === 0) return false;
    for (const s of set) s.end();
    return true;
  }

  /** Flow figures for health details and metrics (walks every live subscription). */
  stats(): { subscriptions: number; buffered: number; dropped: number } {
    let subscriptions = 0;
    let buffered = 0;
    for (const set of this.live.values()) {
      for (const s of set) {
        subscriptions++;
        buffered += s.queue.size;
      }
    }
    return { subscriptions, buffered, dropped: this.drops.total };
  }

  endAll(): void {
    for (const set of this.live.values()) for (const s of set) s.end();
  }
}
