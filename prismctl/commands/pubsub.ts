import type { Command } from "../command";
import { toJson } from "../output";
import { printStream } from "./stream_items";

const decoder = new TextDecoder();

/** Publish / subscribe over the namespace's PubSubBasicInterface. */
export const PUBSUB_COMMANDS: Command[] = [
  {
    group: "pubsub",
    verb: "publish",
    args: "TOPIC PAYLOAD",
    arity: 2,
    summary: "publish one message; prints its id",
    async run(ctx, [topic, payload]) {
      const r = await (await ctx.client({ probe: false })).pubsub.publish(topic!, payload!);
      ctx.io.out(ctx.inv.json ? toJson({ topic, message_id: r.messageId }) : r.messageId || "OK");
      return 0;
    },
  },
  {
    group: "pubsub",
    verb: "subscribe",
    args: "TOPIC",
    arity: 1,
    flags: ["count"],
    summary: "print messages as they arrive (--count N: stop after N; Ctrl-C ends)",
    async run(ctx, [topic]) {
      const c = await ctx.client({ probe: false });
      return printStream(
        ctx,
        c.pubsub.subscribe(topic!, { signal: ctx.signal }),
        (m) => decoder.decode(m.payload),
        (m) => toJson({ topic: m.topic, message_id: m.messageId, payload: m.payload, metadata: m.metadata, timestamp: m.timestamp }),
      );
    },
  },
];
