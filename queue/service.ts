import { defineBinding, invalidArgument } from "@prism/sdk";
import { ConsumerPattern } from "../proto/gen/prism/patterns/consumer/consumer_pattern_pb";
import { ProducerPattern, type PublishRequest } from "../proto/gen/prism/patterns/producer/producer_pattern_pb";
import type { PublishInput, QueuePattern } from "./queue";

const MAX_IDEMPOTENCY_KEY = 256;
const IDEMPOTENCY_HEADER = "x-prism-idempotency-key";

function input(m: PublishRequest, fallbackKey = ""): PublishInput {
  const idempotencyKey = m.idempotencyKey || fallbackKey;
  if (idempotencyKey.length > MAX_IDEMPOTENCY_KEY) throw invalidArgument(`idempotency_key is over ${MAX_IDEMPOTENCY_KEY} characters`);
  return { key: m.key, payload: m.payload, headers: m.headers, idempotencyKey };
}

/** prism.patterns.producer.ProducerPattern over the QueuePattern. */
export const producerService = defineBinding({
  interfaceName: "producer",
  service: ProducerPattern,
  // The queue slot's driver is instrumented itself (driver_operation_* by driver name).
  driverMethods: [],
  implement: (served: { readonly current: QueuePattern }) => ({
    getCapabilities: () => served.current.capabilities!.producer,

    async publish(req, ctx) {
      const header = ctx.metadata.get(IDEMPOTENCY_HEADER)[0];
      const [r] = await served.current.publish(req.topic, [input(req, typeof header === "string" ? header : "")]);
      return r!;
    },

    async publishBatch(req) {
      const topic = req.messages[0]?.topic ?? "";
      if (req.messages.some((m) => m.topic !== topic)) throw invalidArgument("every message of a batch must name the same topic");
      const results = await served.current.publish(
        topic,
        req.messages.map((m) => input(m)),
      );
      return { results };
    },
  }),
});

/** prism.patterns.consumer.ConsumerPattern over the QueuePattern. */
export const consumerService = defineBinding({
  interfaceName: "consumer",
  service: ConsumerPattern,
  driverMethods: [],
  implement: (served: { readonly current: QueuePattern }) => ({
    getCapabilities: () => served.current.capabilities!.consumer,

    async *consume(req, ctx) {
      const params = { topic: req.topic, group: req.group, consumerId: req.consumerId, maxInFlight: req.maxInFlight, ackDeadlineMs: req.ackDeadlineMs };
      for await (const d of served.current.consume(params, ctx.signal)) {
        yield {
          messageId: d.messageId,
          payload: d.payload,
          key: d.key,
          headers: d.headers,
          deliveryAttempt: d.attempt,
          publishedAt: BigInt(d.publishedAt),
          ackToken: d.ackToken,
        };
      }
    },

    async ack(req) {
      const { acked, unknown } = await served.current.ack(req.topic, req.group, req.ackTokens);
      return { acked, unknownTokens: unknown };
    },

    async nack(req) {
      return { known: await served.current.nack(req.topic, req.group, req.ackToken, req.redeliverAfterMs, req.error) };
    },

    async getDeadLetters(req) {
      const page = await served.current.getDeadLetters(req.topic, req.group, req.limit, req.cursor);
      return {
        messages: page.entries.map((d) => ({
          messageId: d.messageId,
          payload: d.payload,
          key: d.key,
          headers: d.headers,
          deliveryAttempts: d.attempts,
          lastError: d.lastError,
          deadLetteredAt: BigInt(d.deadLetteredAt),
          publishedAt: BigInt(d.publishedAt),
        })),
        nextCursor: page.nextCursor,
      };
    },

    async redrive(req) {
      return { redriven: await served.current.redrive(req.topic, req.group, req.messageIds) };
    },

    async getStats(req) {
      const s = await served.current.stats(req.topic, req.group);
      return {
        pending: BigInt(s.pending),
        inFlight: BigInt(s.inFlight),
        deadLettered: BigInt(s.deadLettered),
        deliveredTotal: BigInt(s.deliveredTotal ?? 0),
        ackedTotal: BigInt(s.ackedTotal ?? 0),
        redeliveredTotal: BigInt(s.redeliveredTotal ?? 0),
      };
    },
  }),
});
