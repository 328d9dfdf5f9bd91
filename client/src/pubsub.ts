import { type Message, PubSubBasicInterface, type PublishResponse, type UnsubscribeResponse } from "../../proto/gen/prism/interfaces/pubsub/pubsub_basic_pb";
import { definePattern, type ModuleContext } from "./pattern";
import type { CallOptions } from "./transport";

const bytes = (v: string | Uint8Array): Uint8Array => (typeof v === "string" ? new TextEncoder().encode(v) : v);

/**
 * Publish/subscribe over the namespace's PubSubBasicInterface (a per-interface service: no GetCapabilities, so
 * nothing is refused locally). Publish carries an idempotency key and is retried; Subscribe is an async iterator
 * read at the consumer's pace that re-subscribes after a failure and ends on Unsubscribe or the signal.
 */
export class PubSubClient {
  constructor(private readonly ctx: ModuleContext) {}

  publish(
    topic: string,
    payload: string | Uint8Array,
    options: CallOptions & { metadata?: Record<string, string>; headers?: Record<string, string> } = {},
  ): Promise<PublishResponse> {
    const { headers, ...opts } = options;
    return this.ctx.transport.unary(PubSubBasicInterface, "publish", { topic, payload: bytes(payload), metadata: headers }, "keyed", opts);
  }
  subscribe(topic: string, options: CallOptions & { subscriberId?: string; options?: Record<string, string> } = {}): AsyncIterable<Message> {
    const { subscriberId, options: subOptions, ...opts } = options;
    return this.ctx.transport.stream(PubSubBasicInterface, "subscribe", { topic, subscriberId, options: subOptions }, { ...opts, subscribe: true });
  }
  unsubscribe(topic: string, subscriberId: string, opts?: CallOptions): Promise<UnsubscribeResponse> {
    return this.ctx.transport.unary(PubSubBasicInterface, "unsubscribe", { topic, subscriberId }, "idempotent", opts);
  }
}

export const pubsub = definePattern({ name: "pubsub", service: PubSubBasicInterface, create: (ctx) => new PubSubClient(ctx) });
