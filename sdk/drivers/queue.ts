/**
 * The queue driver interface (`queue` in a slot's requirements): what a backend implements so the queue pattern
 * (queue/, prism.patterns.producer.ProducerPattern + prism.patterns.consumer.ConsumerPattern) can offer
 * at-least-once delivery over it. Issue 21; the wire semantics are in proto/prism/patterns/consumer/.
 *
 * Words used below:
 * - topic: a named sequence of messages. Publishing stores a message once; every group of the topic gets it.
 * - group: a consumer group. Each group has its own progress through the topic and its own dead letters. A group
 *   comes into being the first time it consumes (or is asked for stats): it then sees every message still retained
 *   in the topic, oldest first (a driver documents its retention in its README).
 * - delivery: one hand-over of a message to one consumer of a group. A message is "in flight" in a group from a
 *   delivery until it is acked, nacked, or its ack deadline passes; while in flight no other consumer of the group
 *   gets it. Acked messages are never delivered to the group again (but see "at least once" below).
 * - attempt: deliveries of the message to the group so far, including the current one (1 on the first), counted
 *   by the backend so it survives a restart of the pattern; reset to 0 by a redrive.
 *
 * Division of work between the driver and the SDK (queue/consumer_session.ts, sdk/drivers/queue_emulation.ts):
 * - The driver stores messages, hands them out per group, tracks what is in flight and for how long, redelivers
 *   after a nack's delay or an expired ack deadline, and counts attempts. It must never lose a message that was
 *   published successfully and not yet acked by the group — that is the whole contract.
 * - The SDK bounds each consumer's in-flight deliveries (it pulls from the driver only when the consumer has room),
 *   releases a consumer's in-flight deliveries when its stream ends (by nacking them with delay 0), dead-letters a
 *   delivery whose attempt exceeds max_deliveries (it never reaches the client), and emulates what the driver lacks:
 *   dead letters (stored in a key-value slot, see QueueDeadLetterDriver), idempotent publish (an in-process
 *   IdempotencyWindow), totals in stats.
 *
 * Every method may be called concurrently, from several pattern replicas on the same backend too: an ack token
 * handed out by one replica must be accepted by the driver of another. Backend failures reject with a PrismError
 * (UNAVAILABLE when the call certainly had no effect, UNKNOWN/DEADLINE_EXCEEDED when a write's outcome is unknown).
 */
/** How a feature is provided: by the backend, by the SDK or driver on top of it, or not at all. */
export type QueueSupport = "native" | "emulated" | "unavailable";

/**
 * Order one group's consumers see. "per_key": messages of the same non-empty key are delivered in publish order
 * and a key's next message is not delivered while an earlier one of that key is in flight in the group (so a
 * redelivery is never overtaken); "total": the same for the whole topic; "none": no promise.
 */
export type QueueOrdering = "none" | "per_key" | "total";

/** What the driver does itself; the pattern derives its GetCapabilities answer from this. */
export interface QueueFeatures {
  readonly ordering: QueueOrdering;
  /** "native": queuePublish with several messages costs about one backend round trip; "emulated": one per message. */
  readonly batch: "native" | "emulated";
  /**
   * Set when the backend itself deduplicates publishes by QueuePublishMessage.idempotencyKey for this long (e.g.
   * JetStream's Nats-Msg-Id within its duplicate window): the SDK then passes keys through and reports NATIVE.
   * Absent: the driver ignores idempotencyKey and the SDK deduplicates in-process (EMULATED).
   */
  readonly dedupeWindowMs?: number;
  /** True when published, unacked messages survive a restart of the pattern process (false for memstore). */
  readonly durable: boolean;
  /** Largest payload the backend accepts, bytes (the pattern's max_message_size is the smaller of this and its setting). */
  readonly maxMessageSize: number;
  /**
   * True when stats() returns totals (delivered/acked/redelivered) kept in the backend. False: the SDK counts them
   * in-process since the pattern started.
   */
  readonly durableStats: boolean;
}

export interface QueuePublishMessage {
  /** Ordering key; "" = none. */
  key: string;
  payload: Uint8Array;
  headers: Record<string, string>;
  /** Only when QueueFeatures.dedupeWindowMs is set: a repeat within the window must store nothing new and answer the first messageId. */
  idempotencyKey?: string;
}

export interface QueuePublished {
  /** Unique within the topic, stable across deliveries and dead letters (e.g. a Redis stream id, a row id). */
  messageId: string;
  /** True when the backend recognised idempotencyKey and stored nothing new. */
  duplicate: boolean;
}

/** One delivery of a message to a consumer of a group. */
export interface QueueDelivery {
  messageId: string;
  key: string;
  payload: Uint8Array;
  headers: Record<string, string>;
  /** Unix ms when the message was published. */
  publishedAt: number;
  /** 1-based count of deliveries to this group including this one (see the file comment). */
  attempt: number;
  /**
   * Opaque, non-empty, without "~" (the SDK prefixes its own part): identifies this delivery to queueAck/queueNack
   * of any driver instance on the same backend. After the delivery's ack deadline passed, the token may still
   * ack the message if it has not been delivered again, or be unknown: either is fine (at least once).
   */
  token: string;
  /** The error given to the last queueNack of this message in this group, "" if none (or not kept by the backend). */
  lastError: string;
}

export interface QueueConsumeOptions {
  topic: string;
  group: string;
  /** Names the consumer (for backends that track consumers, e.g. Redis XREADGROUP); unique per open stream. */
  consumerId: string;
  /** A delivery not acked or nacked within this many ms becomes deliverable again to any consumer of the group. */
  ackDeadlineMs: number;
  /**
   * How many more messages this consumer may take now. The driver must not claim more than room() messages from
   * the backend in one fetch, and must re-read it before each fetch. The SDK calls next() on the iterator only
   * when room() > 0, so a driver that fetches lazily inside next() honours the bound by fetching at most room().
   */
  room(): number;
  /** Aborts when the consumer's stream ends; the iterator then returns (see queueConsume). */
  signal: AbortSignal;
}

/**
 * The backend side of a queue. Method names carry the `queue` prefix so one driver class can also implement
 * pub/sub or streams (whose `publish` means something else).
 */
export interface QueueDriver {
  readonly queueFeatures: QueueFeatures;

  /**
   * Stores the messages in order, atomically per message (a batch may be partly stored when it rejects).
   * Resolves only once they are durable to the backend's own standard; one result per message, in order.
   */
  queuePublish(topic: string, messages: QueuePublishMessage[]): Promise<QueuePublished[]>;

  /**
   * The group's deliveries for one consumer, oldest deliverable first, until signal aborts (then the iterator
   * returns without throwing). Deliverable: not yet delivered to the group, or in flight past its ack deadline,
   * or nacked with its delay over — subject to QueueFeatures.ordering. When nothing is deliverable it waits
   * (blocking read or polling, at most ~1 s between checks so a redelivery is not late by more than that) without
   * yielding. It claims at most room() messages per fetch (see QueueConsumeOptions.room) and must not buffer
   * more. When the iterator is closed early (return()) or signal aborts, messages it claimed but did not yield
   * must become deliverable again (nacked with delay 0), or at the latest when their ack deadline passes.
   * A backend error while waiting is retried by the driver with backoff (the stream stays open) unless it is
   * permanent (e.g. the topic cannot exist), in which case the iterator throws a PrismError.
   * Each yielded delivery's attempt is at least 1; the SDK dead-letters it instead of handing it to the client
   * when attempt > max_deliveries, so the driver needs no notion of max_deliveries.
   */
  queueConsume(opts: QueueConsumeOptions): AsyncIterable<QueueDelivery>;

  /**
   * Acks deliveries of the group: one result per token, true when the message was in flight (or deliverable
   * again after an expired deadline) in the group and is now acked, false when the token is unknown (malformed,
   * already acked, dead-lettered, or of another group/topic). An ack of one token never fails because another is
   * unknown.
   */
  queueAck(topic: string, group: string, tokens: string[]): Promise<boolean[]>;

  /**
   * Makes the delivery deliverable again after redeliverAfterMs (0 = now), keeping `error` as the message's last
   * error in the group (returned as QueueDelivery.lastError on its next delivery; "" keeps the previous one).
   * False when the token is unknown (nothing changed). The attempt count is not reset.
   */
  queueNack(topic: string, group: string, token: string, redeliverAfterMs: number, error: string): Promise<boolean>;

  /**
   * The group's counts now: pending = messages not yet acked nor in flight (lag, redeliveries waiting included),
   * inFlight = delivered and neither acked, nacked nor expired. Totals only when queueFeatures.durableStats (else
   * omitted: the SDK counts them). Dead-letter counts come from the dead-letter side (native or emulated).
   */
  queueStats(topic: string, group: string): Promise<QueueStats>;
}

export interface QueueStats {
  pending: number;
  inFlight: number;
  deliveredTotal?: number;
  ackedTotal?: number;
  redeliveredTotal?: number;
}

/** A message moved out of a group's queue after too many deliveries. */
export interface QueueDeadLetter {
  messageId: string;
  key: string;
  payload: Uint8Array;
  headers: Record<string, string>;
  publishedAt: number;
  /** Deliveries it had before it was dead-lettered (= max_deliveries for those the SDK moves). */
  attempts: number;
  lastError: string;
  /** Unix ms. */
  deadLetteredAt: number;
}

export interface QueueDeadLetterPage {
  entries: QueueDeadLetter[];
  /** "" when there are no more. */
  nextCursor: string;
}

/**
 * Native dead letters: a driver that keeps them in the backend implements all three methods (and reports
 * dead_letter NATIVE). A driver without them gets the SDK's emulation (sdk/drivers/queue_emulation.ts): dead
 * letters are written to a key-value store — the pattern's `dead_letter` slot, else the queue driver itself when it
 * also implements keyvalue_basic + keyvalue_scan — then the delivery is acked; a redrive republishes the message to
 * the topic with the header `x-prism-redrive-group: <group>` and a fresh attempt count, and the SDK acks such a
 * message unseen in every other group. Without either, dead letters are UNAVAILABLE and max_deliveries is not
 * enforced (messages are redelivered for ever).
 */
export interface QueueDeadLetterDriver {
  /**
   * Moves the delivery to the group's dead letters, atomically: afterwards it is no longer in flight nor pending
   * in the group and it is listed by queueDeadLetters. Idempotent per messageId (a repeat after a crash stores it
   * once). Other groups are not affected. The SDK calls it with the delivery whose attempt exceeded
   * max_deliveries (that delivery never reaches a client): store `attempts` as delivery.attempt - 1.
   */
  queueDeadLetter(topic: string, group: string, delivery: QueueDelivery, lastError: string): Promise<void>;
  /** The group's dead letters in a stable order (oldest dead-lettered first is preferred), `limit` at most per page. */
  queueDeadLetters(topic: string, group: string, limit: number, cursor: string): Promise<QueueDeadLetterPage>;
  /**
   * Makes the named dead letters (all when messageIds is empty) deliverable again to this group only, with their
   * attempt count back at 0; unknown ids are skipped. Returns how many were moved.
   */
  queueRedrive(topic: string, group: string, messageIds: string[]): Promise<number>;
  /** How many dead letters the group has. */
  queueDeadLetterCount(topic: string, group: string): Promise<number>;
}

/** The header a redrive emulated by the SDK puts on the republished message (see QueueDeadLetterDriver). */
export const REDRIVE_GROUP_HEADER = "x-prism-redrive-group";

/** The driver methods of the `queue` interface, wrapped with metrics and spans (sdk/lifecycle/slots.ts). */
export const QUEUE_METHODS = ["queuePublish", "queueConsume", "queueAck", "queueNack", "queueStats"] as const;

/** True when the driver implements the queue interface (a factory listing "queue" must build such drivers). */
export function isQueueDriver(d: unknown): d is QueueDriver {
  const q = d as Partial<QueueDriver> | undefined;
  return typeof q?.queuePublish === "function" && typeof q.queueConsume === "function" && q.queueFeatures !== undefined;
}

/** True when the driver keeps dead letters itself. */
export function offersQueueDeadLetters(d: unknown): d is QueueDeadLetterDriver {
  const q = d as Partial<QueueDeadLetterDriver> | undefined;
  return (
    typeof q?.queueDeadLetter === "function" &&
    typeof q.queueDeadLetters === "function" &&
    typeof q.queueRedrive === "function" &&
    typeof q.queueDeadLetterCount === "function"
  );
}
