import {
  type Driver,
  type HealthReport,
  type KeyValueBasicDriver,
  IdempotencyWindow,
  invalidArgument,
  isForOtherGroup,
  type Logger,
  type QueueDeadLetterDriver,
  type QueueDeadLetterPage,
  type QueueDelivery,
  type QueueDriver,
  type QueuePublished,
  type QueuePublishMessage,
  type QueueStats,
  resourceExhausted,
  unimplemented,
} from "@prism/sdk";
import { ConsumerSession } from "./consumer_session";
import type { QueueMetrics } from "./metrics";

export interface QueueSettings {
  /** Deliveries before a message is dead-lettered; 0 = no limit. */
  maxDeliveries: number;
  ackDeadlineMs: number;
  defaultMaxInFlight: number;
  maxInFlightLimit: number;
  /** Effective limit: the smaller of the setting and the driver's. */
  maxMessageSize: number;
  maxBatchSize: number;
  /** Used when the driver does not deduplicate itself. */
  dedupeWindowMs: number;
}

export interface ConsumeParams {
  topic: string;
  group: string;
  consumerId: string;
  maxInFlight: number;
  ackDeadlineMs: number;
}

/** A delivery as the client sees it: the driver's, with the pattern's ack token. */
export interface ClientDelivery extends QueueDelivery {
  ackToken: string;
}

export interface PublishInput extends QueuePublishMessage {
  idempotencyKey: string;
}

/** The separator between the session id and the driver token in an ack token. */
const SEP = "~";

/**
 * The queue pattern over its slots: publishes (deduplicated by idempotency key when the driver does not do it),
 * Consume streams bounded by max_in_flight, acks and nacks routed to the driver and to the stream that holds the
 * delivery, dead-lettering after max_deliveries (natively or emulated), stats.
 */
export class QueuePattern implements Driver {
  readonly name = "queue";
  private readonly sessions = new Map<string, ConsumerSession>();
  private readonly dedupe = new IdempotencyWindow<Promise<QueuePublished>>();
  private readonly known = new Set<string>();
  private sessionCounter = 0;
  private readonly instance = Math.random().toString(36).slice(2, 10);
  /** Totals counted here when the driver keeps none (QueueFeatures.durableStats false and no totals returned). */
  private readonly totals = new Map<string, { delivered: number; acked: number; redelivered: number }>();
  metrics: QueueMetrics | undefined;
  /** GetCapabilities answers, derived at start-up (capabilities.ts). */
  capabilities: ReturnType<typeof import("./capabilities").capabilities> | undefined;

  constructor(
    readonly version: string,
    readonly driver: QueueDriver & Driver,
    /** Undefined: dead letters unavailable (max_deliveries not enforced). */
    readonly deadLetters: QueueDeadLetterDriver | undefined,
    readonly settings: QueueSettings,
    private readonly logger: Logger,
    /** The state slot: idempotency keys kept there outlive this process. */
    private readonly state?: Driver & Partial<KeyValueBasicDriver>,
  ) {}

  checkTopicGroup(topic: string, group?: string): void {
    if (topic === "") throw invalidArgument("topic must not be empty");
    if (group !== undefined && group === "") throw invalidArgument("group must not be empty");
  }

  async publish(topic: string, messages: PublishInput[]): Promise<QueuePublished[]> {
    this.checkTopicGroup(topic);
    if (messages.length === 0) return [];
    if (messages.length > this.settings.maxBatchSize) {
      throw invalidArgument(`batch of ${messages.length} messages is over max_batch_size ${this.settings.maxBatchSize}`);
    }
    for (const m of messages) {
      if (m.payload.byteLength > this.settings.maxMessageSize) {
        throw resourceExhausted(`payload is ${m.payload.byteLength} bytes, over max_message_size ${this.settings.maxMessageSize}`);
      }
    }
    const native = this.driver.queueFeatures.dedupeWindowMs !== undefined;
    if (native || messages.every((m) => m.idempotencyKey === "")) {
      return this.driver.queuePublish(
        topic,
        messages.map((m) => ({ key: m.key, payload: m.payload, headers: m.headers, idempotencyKey: m.idempotencyKey || undefined })),
      );
    }
    const out: QueuePublished[] = [];
    for (const m of messages) {
      let fresh = false;
      const first = this.dedupe.run(m.idempotencyKey ? `${topic}\0${m.idempotencyKey}` : undefined, this.settings.dedupeWindowMs, () => {
        fresh = true;
        return this.publishOnce(topic, m);
      });
      const r = await first;
      out.push(fresh ? r : { messageId: r.messageId, duplicate: true });
    }
    return out;
  }

  /** One keyed publish, checked against and recorded in the state slot when there is one. */
  private async publishOnce(topic: string, m: PublishInput): Promise<QueuePublished> {
    const state = this.state;
    const marker = `queue-dedupe/${encodeURIComponent(topic)}/${encodeURIComponent(m.idempotencyKey)}`;
    if (state?.get && m.idempotencyKey !== "") {
      const seen = await state.get(marker);
      if (seen) return { messageId: new TextDecoder().decode(seen), duplicate: true };
    }
    const [r] = await this.driver.queuePublish(topic, [{ key: m.key, payload: m.payload, headers: m.headers }]);
    if (state?.set && m.idempotencyKey !== "") {
      await state.set(marker, new TextEncoder().encode(r!.messageId), Math.ceil(this.settings.dedupeWindowMs / 1000));
    }
    return r!;
  }

  /** Deliveries for one consumer until signal aborts; its unacked deliveries are given back when it ends. */
  async *consume(p: ConsumeParams, signal: AbortSignal): AsyncGenerator<ClientDelivery> {
    this.checkTopicGroup(p.topic, p.group);
    const s = this.settings;
    if (p.maxInFlight < 0 || p.maxInFlight > s.maxInFlightLimit) throw invalidArgument(`max_in_flight must be 0..${s.maxInFlightLimit}`);
    if (p.ackDeadlineMs < 0) throw invalidArgument("ack_deadline_ms must not be negative");
    const id = `${this.instance}.${++this.sessionCounter}`;
    const session = new ConsumerSession(id, p.topic, p.group, p.maxInFlight || s.defaultMaxInFlight, p.ackDeadlineMs || s.ackDeadlineMs);
    this.sessions.set(id, session);
    this.remember(p.topic, p.group);
    const source = this.driver.queueConsume({
      topic: p.topic,
      group: p.group,
      consumerId: p.consumerId || id,
      ackDeadlineMs: session.ackDeadlineMs,
      room: () => session.room(),
      signal,
    });
    const it = source[Symbol.asyncIterator]();
    try {
      while (!signal.aborted) {
        await session.waitForRoom(signal);
        if (signal.aborted) break;
        const r = await it.next();
        if (r.done) break;
        const d = r.value;
        if (isForOtherGroup(d, p.group)) {
          await this.driver.queueAck(p.topic, p.group, [d.token]);
          continue;
        }
        if (s.maxDeliveries > 0 && this.deadLetters && d.attempt > s.maxDeliveries) {
          await this.deadLetters.queueDeadLetter(p.topic, p.group, d, d.lastError || "not acked within the ack deadline");
          this.metrics?.deadLettered(p.topic, p.group);
          continue;
        }
        session.track(d.token);
        this.count(p.topic, p.group, d.attempt);
        yield { ...d, ackToken: `${id}${SEP}${d.token}` };
      }
    } finally {
      this.sessions.delete(id);
      await it.return?.().catch(() => undefined);
      const left = session.drain();
      // Given back at once so other consumers of the group get them without waiting for the deadline.
      await Promise.all(
        left.map((t) =>
          this.driver.queueNack(p.topic, p.group, t, 0, "").catch((err) => {
            this.logger.warn("could not give back a delivery of an ended stream; it is redelivered after its ack deadline", {
              topic: p.topic,
              group: p.group,
              error: String(err),
            });
          }),
        ),
      );
    }
  }

  async ack(topic: string, group: string, tokens: string[]): Promise<{ acked: number; unknown: string[] }> {
    this.checkTopicGroup(topic, group);
    const parsed = tokens.map(parseToken);
    const valid = parsed.filter((t) => t !== undefined);
    const results =
      valid.length > 0
        ? await this.driver.queueAck(
            topic,
            group,
            valid.map((t) => t.driverToken),
          )
        : [];
    const unknown: string[] = [];
    let acked = 0;
    let j = 0;
    for (let i = 0; i < tokens.length; i++) {
      const t = parsed[i];
      const ok = t !== undefined && results[j++] === true;
      if (t) this.sessions.get(t.session)?.release(t.driverToken);
      if (ok) acked++;
      else unknown.push(tokens[i]!);
    }
    this.metrics?.acked(topic, group, acked);
    const tot = this.totalsOf(topic, group);
    tot.acked += acked;
    return { acked, unknown };
  }

  async nack(topic: string, group: string, token: string, redeliverAfterMs: number, error: string): Promise<boolean> {
    this.checkTopicGroup(topic, group);
    if (redeliverAfterMs < 0) throw invalidArgument("redeliver_after_ms must not be negative");
    const t = parseToken(token);
    if (!t) return false;
    const known = await this.driver.queueNack(topic, group, t.driverToken, redeliverAfterMs, error);
    this.sessions.get(t.session)?.release(t.driverToken);
    if (known) this.metrics?.nacked(topic, group);
    return known;
  }

  async getDeadLetters(topic: string, group: string, limit: number, cursor: string): Promise<QueueDeadLetterPage> {
    this.checkTopicGroup(topic, group);
    if (limit < 0 || limit > 10_000) throw invalidArgument("limit must be 0..10000");
    return this.requireDeadLetters().queueDeadLetters(topic, group, limit || 100, cursor);
  }

  async redrive(topic: string, group: string, ids: string[]): Promise<number> {
    this.checkTopicGroup(topic, group);
    return this.requireDeadLetters().queueRedrive(topic, group, ids);
  }

  async stats(topic: string, group: string): Promise<QueueStats & { deadLettered: number }> {
    this.checkTopicGroup(topic, group);
    const st = await this.driver.queueStats(topic, group);
    const tot = this.totalsOf(topic, group);
    const deadLettered = this.deadLetters ? await this.deadLetters.queueDeadLetterCount(topic, group) : 0;
    return {
      pending: st.pending,
      inFlight: st.inFlight,
      deliveredTotal: st.deliveredTotal ?? tot.delivered,
      ackedTotal: st.ackedTotal ?? tot.acked,
      redeliveredTotal: st.redeliveredTotal ?? tot.redelivered,
      deadLettered,
    };
  }

  /** Open streams' in-flight deliveries per topic and group. */
  inFlight(): { topic: string; group: string; inFlight: number }[] {
    const by = new Map<string, { topic: string; group: string; inFlight: number }>();
    for (const s of this.sessions.values()) {
      const k = `${s.topic}\0${s.group}`;
      const e = by.get(k) ?? { topic: s.topic, group: s.group, inFlight: 0 };
      e.inFlight += s.inFlight;
      by.set(k, e);
    }
    return [...by.values()];
  }

  /** Pending messages of the groups this process has served (for prism_queue_lag). */
  async lag(): Promise<{ topic: string; group: string; pending: number }[]> {
    const out: { topic: string; group: string; pending: number }[] = [];
    for (const k of this.known) {
      const [topic, group] = k.split("\0") as [string, string];
      try {
        out.push({ topic, group, pending: (await this.driver.queueStats(topic, group)).pending });
      } catch {
        // A backend that is down has no lag to report; the driver metrics say why.
      }
    }
    return out;
  }

  get openStreams(): number {
    return this.sessions.size;
  }

  async health(): Promise<HealthReport> {
    const r = await this.driver.health();
    return { ...r, details: { ...r.details, consume_streams: String(this.sessions.size) } };
  }

  async close(): Promise<void> {}

  private requireDeadLetters(): QueueDeadLetterDriver {
    if (!this.deadLetters) {
      throw unimplemented(
        `dead letters are unavailable: driver ${this.driver.name} keeps none and no dead_letter slot (keyvalue_basic + keyvalue_scan) is configured`,
      );
    }
    return this.deadLetters;
  }

  private count(topic: string, group: string, attempt: number): void {
    this.metrics?.delivered(topic, group, attempt);
    const tot = this.totalsOf(topic, group);
    tot.delivered++;
    if (attempt > 1) tot.redelivered++;
  }

  private totalsOf(topic: string, group: string) {
    const k = `${topic}\0${group}`;
    let t = this.totals.get(k);
    if (!t) {
      t = { delivered: 0, acked: 0, redelivered: 0 };
      if (this.totals.size < 10_000) this.totals.set(k, t);
    }
    return t;
  }

  private remember(topic: string, group: string): void {
    if (this.known.size < 200) this.known.add(`${topic}\0${group}`);
  }
}

function parseToken(token: string): { session: string; driverToken: string } | undefined {
  const i = token.indexOf(SEP);
  if (i <= 0 || i === token.length - 1) return undefined;
  return { session: token.slice(0, i), driverToken: token.slice(i + 1) };
}
