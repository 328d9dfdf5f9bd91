import { describe, expect, test } from "bun:test";
import { Subjects } from "./subjects";
import { groupConsumerName, parseAckToken } from "./queue_tokens";

describe("queue names", () => {
  test("a queue topic has a stream and subject apart from streams and pub/sub topics", () => {
    const s = new Subjects("ns");
    expect(s.queueSubject("orders")).toBe("ns.queue.orders");
    expect(s.queueStreamName("orders")).toBe("ns_Qorders");
    expect(s.streamName("orders")).toBe("ns_Sorders");
    expect(s.queueStreamName("a.b_c")).toBe("ns_Qa_2eb_5fc");
    expect(() => s.queueStreamName("a b")).toThrow(/cannot be a NATS subject/);
    expect(() => s.queueStreamName("x".repeat(300))).toThrow(/too long for JetStream/);
  });

  test("group names become consumer names JetStream accepts, distinct per group", () => {
    expect(groupConsumerName("workers")).toBe("Gworkers");
    expect(groupConsumerName("a.b")).toBe("Ga_2eb");
    expect(groupConsumerName("a/b*")).not.toContain("/");
    expect(groupConsumerName("a_2e")).not.toBe(groupConsumerName("a.b"));
  });
});

describe("parseAckToken", () => {
  test("both forms of JetStream ack subjects", () => {
    expect(parseAckToken("$JS.ACK.ns_Qt.Gg.3.17.40.1796561679036909600.5")).toEqual({
      stream: "ns_Qt",
      consumer: "Gg",
      deliveryCount: 3,
      streamSeq: 17,
      timestampNanos: 1796561679036909600,
    });
    expect(parseAckToken("$JS.ACK.hub.ABC.ns_Qt.Gg.1.2.3.1796561679036909600.0.xyz")).toEqual({
      stream: "ns_Qt",
      consumer: "Gg",
      deliveryCount: 1,
      streamSeq: 2,
      timestampNanos: 1796561679036909600,
    });
  });

  test("anything else is not a token", () => {
    for (const bad of ["", "x", "$JS.ACK.s.c.1.x.3.4.5", "$JS.ACK.s.c.1.0.3.4.5", "$JS.NAK.s.c.1.2.3.4.5", "$JS.ACK.s.c.1.2.3.4", "$JS.ACK..c.1.2.3.4.5"]) {
      expect(parseAckToken(bad)).toBeUndefined();
    }
  });
});
