import { describe, expect, test } from "bun:test";
import { type Admin, type Kafka, KafkaJSProtocolError } from "kafkajs";
import { Code, PrismError } from "../sdk/grpc/errors";
import { AdminHandle } from "./admin";

const protocol = (type: string, retriable: boolean) =>
  new KafkaJSProtocolError(Object.assign(new Error(type.toLowerCase()), { type, code: 1, retriable }) as never);

/** A kafkajs client whose admin only connects; the step under test is the function handed to the handle. */
const kafka = { admin: () => ({ connect: async () => undefined, disconnect: async () => undefined }) as unknown as Admin } as unknown as Kafka;

describe("kafka admin handle", () => {
  test("useSettling tries a step again while the broker answers 'not the correct coordinator', then returns its result", async () => {
    let calls = 0;
    const got = await new AdminHandle(kafka).useSettling("subscribe", 2_000, async () => {
      if (++calls < 3) throw protocol("NOT_COORDINATOR_FOR_GROUP", true);
      return "offsets";
    });
    expect(got).toBe("offsets");
    expect(calls).toBe(3);
  });

  test("useSettling gives up UNAVAILABLE once settleMs has passed, and never retries a caller's error", async () => {
    let calls = 0;
    const started = Date.now();
    const err = await new AdminHandle(kafka)
      .useSettling("subscribe", 200, async () => {
        calls++;
        throw protocol("NOT_COORDINATOR_FOR_GROUP", true);
      })
      .catch((e) => e);
    expect(err).toBeInstanceOf(PrismError);
    expect(err.code).toBe(Code.UNAVAILABLE);
    expect(err.message).toContain("subscribe");
    expect(calls).toBeGreaterThan(1);
    expect(Date.now() - started).toBeLessThan(1_000);

    let refused = 0;
    const denied = await new AdminHandle(kafka)
      .useSettling("subscribe", 2_000, async () => {
        refused++;
        throw protocol("GROUP_AUTHORIZATION_FAILED", false);
      })
      .catch((e) => e);
    expect(denied.code).not.toBe(Code.UNAVAILABLE);
    expect(refused).toBe(1);
  });

  test("use does not retry: the first UNAVAILABLE is the answer", async () => {
    let calls = 0;
    const err = await new AdminHandle(kafka)
      .use("stats", async () => {
        calls++;
        throw protocol("NOT_COORDINATOR_FOR_GROUP", true);
      })
      .catch((e) => e);
    expect(err.code).toBe(Code.UNAVAILABLE);
    expect(calls).toBe(1);
  });
});
