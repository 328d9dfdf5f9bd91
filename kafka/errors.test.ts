import { describe, expect, test } from "bun:test";
import { KafkaJSConnectionError, KafkaJSNonRetriableError, KafkaJSNumberOfRetriesExceeded, KafkaJSProtocolError } from "kafkajs";
import { Code, PrismError } from "../sdk/grpc/errors";
import { toPrismError } from "./errors";

const protocol = (type: string, retriable: boolean) =>
  new KafkaJSProtocolError(Object.assign(new Error(type.toLowerCase()), { type, code: 1, retriable }) as never);

describe("kafka error mapping", () => {
  test("a refused connection, even wrapped by retries, is UNAVAILABLE", () => {
    const conn = new KafkaJSConnectionError("Connection error: connect ECONNREFUSED 127.0.0.1:9092");
    expect(toPrismError(conn, "publish").code).toBe(Code.UNAVAILABLE);
    const wrapped = new KafkaJSNumberOfRetriesExceeded(conn, { retryCount: 2, retryTime: 400 });
    const e = toPrismError(wrapped, "publish");
    expect(e.code).toBe(Code.UNAVAILABLE);
    expect(e.message).toContain("ECONNREFUSED");
    // kafkajs sometimes wraps a connection error as "non-retriable" once its retries are spent.
    expect(toPrismError(new KafkaJSNonRetriableError(conn as never), "publish").code).toBe(Code.UNAVAILABLE);
  });

  test("retriable broker errors are UNAVAILABLE", () => {
    expect(toPrismError(protocol("NOT_LEADER_FOR_PARTITION", true), "x").code).toBe(Code.UNAVAILABLE);
  });

  test("the caller's mistakes keep their meaning", () => {
    expect(toPrismError(protocol("MESSAGE_TOO_LARGE", false), "x").code).toBe(Code.INVALID_ARGUMENT);
    expect(toPrismError(protocol("TOPIC_AUTHORIZATION_FAILED", false), "x").code).toBe(Code.PERMISSION_DENIED);
    // createTopics: a name colliding under Kafka's '.'/'_' rule, wrapped in an aggregate error.
    const collision = Object.assign(new Error("Topic creation errors"), {
      name: "KafkaJSAggregateError",
      errors: [protocol("INVALID_TOPIC_EXCEPTION", false)],
    });
    expect(toPrismError(collision, "x").code).toBe(Code.INVALID_ARGUMENT);
  });

  test("anything else is INTERNAL, and PrismErrors pass through", () => {
    expect(toPrismError(protocol("CORRUPT_MESSAGE", false), "x").code).toBe(Code.INTERNAL);
    const mine = new PrismError(Code.NOT_FOUND, "n");
    expect(toPrismError(mine, "x")).toBe(mine);
  });
});
