import {
  type AckResponse,
  type ConsumerCapabilities,
  ConsumerPattern,
  type DeadLetter,
  type Delivery,
  type GetDeadLettersResponse,
  type GetStatsResponse,
  type NackResponse,
  type RedriveResponse,
} from "../../proto/gen/prism/patterns/consumer/consumer_pattern_pb";
import {
  type ProducerCapabilities,
  ProducerPattern,
  type PublishBatchResponse,
  type PublishResponse,
  Support,
} from "../../proto/gen/prism/patterns/producer/producer_pattern_pb";
import { AckBatcher } from "./ack_batch";
import { definePattern, type ModuleContext, require } from "./pattern";
import { type CallOptions, IDEMPOTENCY_HEADER } from "./transport";

export type { ConsumerCapabilities, DeadLetter, Delivery, ProducerCapabilities };

/** Both halves of Producer/Consumer, as fetched on connect. */
export interface QueueCapabilities {
  producer: ProducerCapabilities;
  consumer: ConsumerCapabilities;
}

/** A message to publish: payload (strings as UTF-8), an ordering key, headers. */
export interface OutgoingMessage {
  payload: string | Uint8Array;
  key?: string;
  headers?: Record<string, string>;
}

/** A delivery with the calls that settle it. */
export type QueueDelivery = Delivery & {
  /**
   * Acknowledges it (idempotent: acking twice changes nothing); false when the token is no longer known. Acks of
   * one stream made while an Ack is in flight go together in the next Ack call (without options of their own).
   */
  ack(opts?: CallOptions): Promise<boolean>;
  /** Gives it back for redelivery (after redeliverAfterMs), recording why; false when no longer known. */
  nack(options?: CallOptions & { redeliverAfterMs?: number; error?: string }): Promise<boolean>;
};

const encoder = new TextEncoder();
const bytes = (v: string | Uint8Array): Uint8Array => (typeof v === "string" ? encoder.encode(v) : v);

/**
 * Producer/Consumer (prism.patterns.producer.ProducerPattern + prism.patterns.consumer.ConsumerPattern).
 * publish and publishBatch carry the client's idempotency key in the header and in the message's
 * idempotency_key field, so a retry is stored once; consume is an async iterator that opens the stream again
 * after a failure and whose items carry ack() and nack(); the server holds at most max_in_flight unacked
 * deliveries per stream, and the iterator reads no faster than the caller.
 */
export class QueueClient {
  readonly backend: string;

  constructor(
    private readonly ctx: ModuleContext,
    readonly capabilities: QueueCapabilities,
  ) {
    this.backend = capabilities.consumer.slots?.queueBackendType || capabilities.producer.slots?.queueBackendType || "this backend";
  }

  /** The key of one logical publish: the caller's, else a new one (none with idempotencyKeys: false). */
  private keyOf(opts: CallOptions | undefined): string | undefined {
    return opts?.metadata?.[IDEMPOTENCY_HEADER] ?? (this.ctx.transport.options.idempotencyKeys ? globalThis.crypto.randomUUID() : undefined);
  }

  private withKey(opts: CallOptions | undefined, key: string | undefined): CallOptions | undefined {
    return key === undefined ? opts : { ...opts, metadata: { ...opts?.metadata, [IDEMPOTENCY_HEADER]: key } };
  }

  /** Publishes one message; `duplicate` is true when the key was seen before (a retry that was stored once). */
  async publish(topic: string, message: OutgoingMessage | string | Uint8Array, opts?: CallOptions): Promise<PublishResponse> {
    const m = typeof message === "string" || message instanceof Uint8Array ? { payload: message } : message;
    const key = this.keyOf(opts);
    const req = { topic, payload: bytes(m.payload), key: m.key ?? "", headers: m.headers ?? {}, idempotencyKey: key ?? "" };
    return this.ctx.transport.unary(ProducerPattern, "publish", req, "keyed", this.withKey(opts, key));
  }

  /** Publishes several messages in one call; each carries "<key>/<index>" so a retried batch is stored once. */
  async publishBatch(topic: string, messages: (OutgoingMessage | string | Uint8Array)[], opts?: CallOptions): Promise<PublishBatchResponse> {
    const p = this.capabilities.producer;
    require(p.supportsBatch && p.batch !== Support.UNAVAILABLE, "publish batch", this.backend, "the namespace's capabilities say supports_batch=false");
    if (p.batch === Support.EMULATED) this.ctx.emulated("queue", "publish batch", this.backend, "one publish per message (batch=SUPPORT_EMULATED)");
    const key = this.keyOf(opts);
    const req = {
      messages: messages.map((x, i) => {
        const m = typeof x === "string" || x instanceof Uint8Array ? { payload: x } : x;
        return { topic, payload: bytes(m.payload), key: m.key ?? "", headers: m.headers ?? {}, idempotencyKey: key === undefined ? "" : `${key}/${i}` };
      }),
    };
    return this.ctx.transport.unary(ProducerPattern, "publishBatch", req, "keyed", this.withKey(opts, key));
  }

  /**
   * Deliveries of `topic` to `group` until the signal aborts. The server sends at most `maxInFlight` unacked
   * deliveries (0 = the pattern's default); one not acked within its ack deadline, or left unacked when the
   * stream breaks, is delivered again (at least once). After a failure the stream is opened again with backoff.
   */
  async *consume(
    topic: string,
    group: string,
    options: CallOptions & { consumerId?: string; maxInFlight?: number; ackDeadlineMs?: number } = {},
  ): AsyncGenerator<QueueDelivery> {
    const { consumerId, maxInFlight, ackDeadlineMs, ...opts } = options;
    const req = { topic, group, consumerId: consumerId ?? "", maxInFlight: maxInFlight ?? 0, ackDeadlineMs: ackDeadlineMs ?? 0 };
    const acks = new AckBatcher((ackTokens) => this.ack(topic, group, ackTokens));
    for await (const d of this.ctx.transport.stream<Delivery>(ConsumerPattern, "consume", req, { ...opts, subscribe: true })) {
      yield Object.assign(d, {
        // Acks with call options of their own (deadline, signal, metadata) go alone.
        ack: async (o?: CallOptions) => (o === undefined ? acks.ack(d.ackToken) : (await this.ack(topic, group, [d.ackToken], o)).acked > 0),
        nack: async (o: CallOptions & { redeliverAfterMs?: number; error?: string } = {}) => {
          const { redeliverAfterMs, error, ...rest } = o;
          return (await this.nack(topic, group, d.ackToken, { redeliverAfterMs, error }, rest)).known;
        },
      });
    }
  }

  /** Acknowledges deliveries by token; retried (acking a token twice changes nothing). */
  async ack(topic: string, group: string, ackTokens: string[], opts?: CallOptions): Promise<AckResponse> {
    return this.ctx.transport.unary(ConsumerPattern, "ack", { topic, group, ackTokens }, "idempotent", opts);
  }

  /** Gives a delivery back; never sent twice (a second nack would count another attempt). */
  async nack(
    topic: string,
    group: string,
    ackToken: string,
    how: { redeliverAfterMs?: number; error?: string } = {},
    opts?: CallOptions,
  ): Promise<NackResponse> {
    const req = { topic, group, ackToken, redeliverAfterMs: how.redeliverAfterMs ?? 0, error: how.error ?? "" };
    return this.ctx.transport.unary(ConsumerPattern, "nack", req, "write", opts);
  }

  private checkDeadLetters(): void {
    const dl = this.capabilities.consumer.deadLetter;
    require(dl !== Support.UNAVAILABLE, "dead letters", this.backend, "the namespace's capabilities say dead_letter=SUPPORT_UNAVAILABLE");
    if (dl === Support.EMULATED)
      this.ctx.emulated("queue", "dead letters", this.backend, "kept by the pattern in its dead-letter slot (dead_letter=SUPPORT_EMULATED)");
  }

  /** One page of the group's dead letters. */
  async deadLetters(topic: string, group: string, page: { limit?: number; cursor?: string } = {}, opts?: CallOptions): Promise<GetDeadLettersResponse> {
    this.checkDeadLetters();
    return this.ctx.transport.unary(ConsumerPattern, "getDeadLetters", { topic, group, limit: page.limit ?? 0, cursor: page.cursor ?? "" }, "read", opts);
  }

  /** Every dead letter of the group, following next_cursor. */
  async *allDeadLetters(topic: string, group: string, opts?: CallOptions): AsyncGenerator<DeadLetter> {
    let cursor = "";
    do {
      const page = await this.deadLetters(topic, group, { cursor }, opts);
      yield* page.messages;
      cursor = page.nextCursor;
    } while (cursor !== "");
  }

  /** Puts dead letters back on the group's queue (none named = all of them). */
  async redrive(topic: string, group: string, messageIds: string[] = [], opts?: CallOptions): Promise<RedriveResponse> {
    this.checkDeadLetters();
    return this.ctx.transport.unary(ConsumerPattern, "redrive", { topic, group, messageIds }, "write", opts);
  }

  /** Pending, in flight, dead-lettered and the totals of a group. */
  async stats(topic: string, group: string, opts?: CallOptions): Promise<GetStatsResponse> {
    return this.ctx.transport.unary(ConsumerPattern, "getStats", { topic, group }, "read", opts);
  }
}

export const queue = definePattern({
  name: "queue",
  service: ProducerPattern,
  probe: async (ctx: ModuleContext): Promise<QueueCapabilities> => {
    const [producer, consumer] = await Promise.all([
      ctx.transport.unary<ProducerCapabilities>(ProducerPattern, "getCapabilities", {}, "read"),
      ctx.transport.unary<ConsumerCapabilities>(ConsumerPattern, "getCapabilities", {}, "read"),
    ]);
    return { producer, consumer };
  },
  create: (ctx, caps) => new QueueClient(ctx, caps!),
});
