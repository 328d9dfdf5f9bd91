import { AckPolicy, DeliverPolicy, nanos, type JetStreamManager, type Msg, type MsgHdrs, type NatsConnection } from "nats";
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
import { BoundedMap } from "./bounded_map";
import { ensureLimitsStream } from "./jetstream_stream";
import type { NatsConfig } from "./config";
import type { NatsConnector } from "./connection";
import { toPrismError } from "./errors";
import { KEY_HEADER, metadataOf, toHeaders } from "./headers";
import { pull } from "./queue_pull";
import { groupConsumerName, parseAckToken } from "./queue_tokens";
import type { Subjects } from "./subjects";

/** A pull waits this long on the server for messages before it is renewed (the interface's "~1 s between checks"). */
const FETCH_EXPIRES_MS = 1_000;

/**
 * A pull's expiry: FETCH_EXPIRES_MS ± 25 %, so the pulls of a group's consumers do not all end at the same moment.
 * (They did: started together, they expired together, and when the server's 408s did not come, every consumer of
 * the group was without a pull until queue_pull's slack ran out.)
 */
export function pullExpiry(random: () => number = Math.random): number {
  return Math.round(FETCH_EXPIRES_MS * (0.75 + random() * 0.5));
}
/** Ack deadline of a group created by a stats call (a Consume sets its own). */
const DEFAULT_ACK_WAIT_MS = 30_000;
/** Deliveries remembered in-process (settled tokens, last errors). */
const REMEMBERED = 100_000;
/** Largest payload assumed before the server said its max_payload (the server's default). */
const DEFAULT_MAX_PAYLOAD = 1 << 20;
/** Room kept for the pattern's and the user's headers within max_payload. */
const HEADER_ALLOWANCE = 16 * 1024;

const ACK = new TextEncoder().encode("+ACK");
const nak = (delayMs: number) => new TextEncoder().encode(delayMs > 0 ? `-NAK ${JSON.stringify({ delay: nanos(delayMs) })}` : "-NAK");

/** Codes of failures a Consume cannot get past by waiting: the stream ends with them. */
const PERMANENT = new Set<Code>([Code.INVALID_ARGUMENT, Code.PERMISSION_DENIED, Code.UNAUTHENTICATED, Code.FAILED_PRECONDITION]);

/**
 * Queue topics on JetStream (issue 21). A topic is a stream (`<ns>_Q<topic>`, limits retention, so every group
 * sees every message; its duplicate window dedupes publishes by Nats-Msg-Id); a group is a durable pull consumer
 * with explicit acks. JetStream does the queue's work itself: it hands a message to one pull request of the
 * group at a time, redelivers it after AckWait (the ack deadline) or after a Nak's delay, counts deliveries (the
 * attempt, kept by the server across pattern restarts), and bounds the group's unacked messages (max_ack_pending).
 * A delivery's ack token is its ack subject: an ack or nack published to it reaches the server from any
 * connection, so any pattern instance settles any delivery. MaxDeliver is left unlimited: the SDK dead-letters a
 * delivery whose attempt exceeds max_deliveries (JetStream's own limit would stop delivering the message and only
 * announce it in an advisory a pattern that is down would miss).
 */
export class NatsQueue {
  /** Streams known to exist, and each group's durable with the AckWait it was last given. */
  private readonly streams = new Set<string>();
  private readonly durables = new Map<string, number>();
  private jsmFor: { nc: NatsConnection; jsm: Promise<JetStreamManager> } | undefined;
  /** Deliveries acked from here: a second ack or a nack of one is reported unknown. */
  private readonly settled = new BoundedMap<string, true>(REMEMBERED);
  /** Last nack error per delivered message (JetStream keeps none: lost on a restart of the pattern). */
  private readonly lastErrors = new BoundedMap<string, string>(REMEMBERED);

  constructor(
    private readonly conn: NatsConnector,
    private readonly subjects: Subjects,
    private readonly cfg: NatsConfig,
    private readonly logger: Logger,
  ) {}

  /** What JetStream does itself; the payload limit follows the server's max_payload once connected. */
  features(): QueueFeatures {
    const conn = this.conn;
    const dedupeWindowMs = this.cfg.queue.dedupe_window;
    return {
      ordering: "none",
      // Publishes are pipelined on the one connection: about one round trip for a batch, stored in order.
      batch: "native",
      dedupeWindowMs,
      durable: true,
      get maxMessageSize() {
        const max = conn.state === "connected" ? (conn.current().info?.max_payload ?? DEFAULT_MAX_PAYLOAD) : DEFAULT_MAX_PAYLOAD;
        return Math.max(1, max - HEADER_ALLOWANCE);
      },
      durableStats: false,
    };
  }

  /** Bound on a publish of `n` messages: request_timeout per started 100 (they are confirmed one by one). */
  publishTimeout(n: number): number {
    return this.cfg.request_timeout * Math.max(1, Math.ceil(n / 100));
  }

  async publish(topic: string, messages: QueuePublishMessage[]): Promise<QueuePublished[]> {
    const nc = this.conn.current();
    // Headers first: a message NATS cannot carry fails the batch before anything is stored.
    const headers = messages.map((m) => toHeaders(m.headers, m.key ? { [KEY_HEADER]: m.key } : {}));
    try {
      const { subject } = await this.ensureStream(nc, topic);
      const js = nc.jetstream({ timeout: this.publishTimeout(messages.length) });
      const acks = messages.map((m, i) =>
        js.publish(subject, m.payload, m.idempotencyKey ? { headers: headers[i], msgID: m.idempotencyKey } : { headers: headers[i] }),
      );
      const settled = await Promise.allSettled(acks);
      return settled.map((s) => {
        if (s.status === "rejected") throw s.reason;
        return { messageId: String(s.value.seq), duplicate: s.value.duplicate };
      });
    } catch (err) {
      throw toPrismError(err, "queue publish");
    }
  }

  /**
   * Pulls at most room() messages at a time from the group's durable, each pull waiting up to a second on the
   * server. A server error ends the pull and the loop pulls again with backoff; messages a pull claimed but did
   * not hand over (the stream ended) are nacked at once (queue_pull.ts).
   */
  async *consume(opts: QueueConsumeOptions): AsyncGenerator<QueueDelivery> {
    const durable = groupConsumerName(opts.group);
    let failures = 0;
    while (!opts.signal.aborted) {
      try {
        const nc = this.conn.current();
        const { name } = await this.ensureStream(nc, opts.topic);
        await this.ensureDurable(nc, name, durable, opts.ackDeadlineMs, true);
        const room = opts.room();
        if (room <= 0) {
          await sleep(50, opts.signal).catch(() => undefined);
          continue;
        }
        for await (const m of pull(nc, name, durable, room, pullExpiry(), opts.signal)) {
          failures = 0;
          const d = this.toDelivery(name, durable, m);
          if (d) yield d;
        }
      } catch (err) {
        if (opts.signal.aborted) return;
        const e = toPrismError(err, "queue consume");
        if (PERMANENT.has(e.code)) throw e;
        // A stream or durable deleted behind the pattern's back is created again on the next pull.
        this.streams.clear();
        this.durables.clear();
        if (failures++ === 0) this.logger.debug("nats queue pull failed; retrying", { topic: opts.topic, group: opts.group, error: e.message });
        await sleep(Math.min(1_000, 50 * 2 ** Math.min(failures, 5)), opts.signal).catch(() => undefined);
      }
    }
  }

  /** Acks by publishing to each token's ack subject; resolves once the server has them (one flush for all). */
  async ack(topic: string, group: string, tokens: string[]): Promise<boolean[]> {
    const nc = this.conn.current();
    const ids = tokens.map((t) => this.deliveryKey(topic, group, t));
    const seen = new Set<string>();
    const known = ids.map((id) => {
      if (id === undefined || this.settled.has(id) || seen.has(id)) return false;
      seen.add(id);
      return true;
    });
    try {
      for (let i = 0; i < tokens.length; i++) if (known[i]) nc.publish(tokens[i]!, ACK);
      await this.flush(nc);
    } catch (err) {
      throw toPrismError(err, "queue ack");
    }
    for (let i = 0; i < ids.length; i++) {
      if (!known[i]) continue;
      this.settled.set(ids[i]!, true);
      this.lastErrors.delete(ids[i]!);
    }
    return known;
  }

  /** A Nak with JetStream's delay; the error is kept here for the message's next delivery. */
  async nack(topic: string, group: string, token: string, redeliverAfterMs: number, error: string): Promise<boolean> {
    const id = this.deliveryKey(topic, group, token);
    if (id === undefined || this.settled.has(id)) return false;
    const nc = this.conn.current();
    try {
      nc.publish(token, nak(Math.max(0, redeliverAfterMs)));
      await this.flush(nc);
    } catch (err) {
      throw toPrismError(err, "queue nack");
    }
    if (error) this.lastErrors.set(id, error);
    return true;
  }

  /**
   * From the durable's info: pending = messages not yet delivered to the group; inFlight = delivered and not acked
   * (JetStream counts a nacked message waiting for its delay, and one past its AckWait, here too).
   */
  async stats(topic: string, group: string): Promise<QueueStats> {
    const nc = this.conn.current();
    try {
      const { name, jsm } = await this.ensureStream(nc, topic);
      const durable = groupConsumerName(group);
      await this.ensureDurable(nc, name, durable, DEFAULT_ACK_WAIT_MS, false);
      const ci = await jsm.consumers.info(name, durable);
      return { pending: ci.num_pending, inFlight: ci.num_ack_pending };
    } catch (err) {
      throw toPrismError(err, "queue stats");
    }
  }

  private toDelivery(stream: string, durable: string, m: Msg): QueueDelivery | undefined {
    const token = m.reply ?? "";
    const info = parseAckToken(token);
    if (!info) return undefined;
    const h: MsgHdrs | undefined = m.headers;
    return {
      messageId: String(info.streamSeq),
      key: h?.get(KEY_HEADER) ?? "",
      payload: m.data,
      headers: metadataOf(h),
      publishedAt: Math.floor(info.timestampNanos / 1e6),
      attempt: info.deliveryCount,
      token,
      lastError: this.lastErrors.get(`${stream}\0${durable}\0${info.streamSeq}`) ?? "",
    };
  }

  /** `<stream>\0<durable>\0<seq>` of a token of this topic and group; undefined for any other token. */
  private deliveryKey(topic: string, group: string, token: string): string | undefined {
    const info = parseAckToken(token);
    if (!info) return undefined;
    let stream: string;
    try {
      stream = this.subjects.queueStreamName(topic);
    } catch {
      return undefined;
    }
    const durable = groupConsumerName(group);
    if (info.stream !== stream || info.consumer !== durable) return undefined;
    return `${stream}\0${durable}\0${info.streamSeq}`;
  }

  private async flush(nc: NatsConnection): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await Promise.race([
        nc.flush(),
        new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error("nats flush timeout")), this.cfg.request_timeout))),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  manager(nc: NatsConnection): Promise<JetStreamManager> {
    if (this.jsmFor?.nc !== nc) {
      const jsm = nc.jetstreamManager({ timeout: this.cfg.request_timeout });
      jsm.catch(() => (this.jsmFor = undefined));
      this.jsmFor = { nc, jsm };
    }
    return this.jsmFor.jsm;
  }

  /** Creates the topic's stream when missing (limits retention: every group gets every message). */
  ensureStream(nc: NatsConnection, topic: string): Promise<{ name: string; subject: string; jsm: JetStreamManager }> {
    return this.ensureStreamNamed(nc, this.subjects.queueStreamName(topic), this.subjects.queueSubject(topic));
  }

  /** Creates a stream of the queue (a topic's, or its dead letters') when missing, with the configured limits. */
  async ensureStreamNamed(nc: NatsConnection, name: string, subject: string): Promise<{ name: string; subject: string; jsm: JetStreamManager }> {
    const jsm = await this.manager(nc);
    if (this.streams.has(name)) return { name, subject, jsm };
    await ensureLimitsStream(jsm, this.cfg, name, subject, { duplicate_window: nanos(this.cfg.queue.dedupe_window) });
    this.streams.add(name);
    return { name, subject, jsm };
  }

  /**
   * Creates the group's durable when missing, from the topic's first message. `setAckWait`: a Consume asking for
   * another ack deadline than the durable has changes it for the whole group (JetStream's AckWait is per durable).
   */
  private async ensureDurable(nc: NatsConnection, stream: string, durable: string, ackWaitMs: number, setAckWait: boolean): Promise<void> {
    const key = `${stream}\0${durable}`;
    const known = this.durables.get(key);
    if (known !== undefined && (!setAckWait || known === ackWaitMs)) return;
    const jsm = await this.manager(nc);
    let ci: Awaited<ReturnType<JetStreamManager["consumers"]["info"]>> | undefined;
    try {
      ci = await jsm.consumers.info(stream, durable);
    } catch (err) {
      if (toPrismError(err, "").code !== Code.NOT_FOUND) throw err;
    }
    if (!ci) {
      try {
        ci = await jsm.consumers.add(stream, {
          durable_name: durable,
          ack_policy: AckPolicy.Explicit,
          deliver_policy: DeliverPolicy.All,
          ack_wait: nanos(ackWaitMs),
          max_deliver: -1,
          max_ack_pending: this.cfg.queue.max_ack_pending,
        });
      } catch (addErr) {
        ci = await jsm.consumers.info(stream, durable).catch(() => Promise.reject(addErr));
      }
    }
    const current = Math.round((ci?.config.ack_wait ?? 0) / 1e6);
    if (setAckWait && current !== ackWaitMs) {
      await jsm.consumers.update(stream, durable, { ack_wait: nanos(ackWaitMs) });
      this.durables.set(key, ackWaitMs);
    } else {
      this.durables.set(key, current);
    }
  }
}
