import { PubSubBasicInterface } from "../../proto/gen/prism/interfaces/pubsub/pubsub_basic_pb";
import type { PubSubDriver } from "../drivers/interfaces";
import { defineBinding } from "./binding";
import { checkKey, checkValue, writeOptions } from "./limits";

let anonymous = 0;

export const pubSubBasic = defineBinding({
  interfaceName: "pubsub_basic",
  service: PubSubBasicInterface,
  driverMethods: ["publish", "subscribe", "unsubscribe"],
  implement: (driver: { readonly current: PubSubDriver }, limits) => ({
    async publish(req, ctx) {
      checkKey(req.topic, limits, "topic");
      checkValue(req.payload, limits);
      const write = writeOptions(ctx, limits);
      const { messageId } = await (write
        ? driver.current.publish(req.topic, req.payload, req.metadata, req.key, write)
        : driver.current.publish(req.topic, req.payload, req.metadata, req.key));
      return { success: true, messageId };
    },
    async *subscribe(req, ctx) {
      checkKey(req.topic, limits, "topic");
      // Without an id every subscriber gets its own copy of every message.
      const subscriberId = req.subscriberId || `anonymous-${process.pid}-${++anonymous}`;
      const messages = driver.current.subscribe({ topic: req.topic, subscriberId, options: req.options, signal: ctx.signal });
      for await (const m of messages) {
        yield { topic: m.topic, payload: m.payload, metadata: m.metadata, messageId: m.messageId, timestamp: BigInt(m.timestamp) };
      }
    },
    async unsubscribe(req) {
      checkKey(req.topic, limits, "topic");
      const found = await driver.current.unsubscribe(req.topic, req.subscriberId);
      return { success: found, error: found ? "" : "no such subscription" };
    },
  }),
});
