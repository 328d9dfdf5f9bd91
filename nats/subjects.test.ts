import { describe, expect, test } from "bun:test";
import { Code, PrismError } from "../sdk/grpc/errors";
import { checkQueueName, Subjects } from "./subjects";

const codeOf = (f: () => unknown) => {
  try {
    f();
    return Code.OK;
  } catch (e) {
    return (e as PrismError).code;
  }
};

describe("Subjects", () => {
  const s = new Subjects("team-a");

  test("topics and streams live in separate subject trees of the namespace", () => {
    expect(s.topic("orders.eu")).toBe("team-a.topic.orders.eu");
    expect(s.streamSubject("orders.eu")).toBe("team-a.stream.orders.eu");
  });

  test("JetStream stream names escape what NATS does not allow, without collisions", () => {
    expect(s.streamName("orders")).toBe("team-a_Sorders");
    const names = ["a.b", "a_2eb", "a_b", "a-b", "ä"].map((n) => s.streamName(n));
    expect(new Set(names).size).toBe(names.length);
    for (const n of names) expect(n).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(new Subjects("x_S").streamName("y")).not.toBe(new Subjects("x").streamName("S_Sy"));
  });

  test("names that cannot be subjects are INVALID_ARGUMENT", () => {
    for (const bad of ["", "a b", "a.*", ">", "a..b", ".a", "a."]) expect(codeOf(() => s.topic(bad))).toBe(Code.INVALID_ARGUMENT);
    expect(codeOf(() => checkQueueName("has space"))).toBe(Code.INVALID_ARGUMENT);
    expect(codeOf(() => checkQueueName("worker-1"))).toBe(Code.OK);
  });

  test("a stream whose JetStream name would pass 255 characters (the server's limit) is INVALID_ARGUMENT", () => {
    const d = new Subjects("default");
    const fits = "x".repeat(255 - "default_S".length);
    expect(d.streamName(fits).length).toBe(255);
    expect(codeOf(() => d.streamName(`${fits}x`))).toBe(Code.INVALID_ARGUMENT);
    // Escaping counts: 100 'é' are 200 UTF-8 bytes, 600 characters once escaped.
    expect(codeOf(() => d.streamName("é".repeat(100)))).toBe(Code.INVALID_ARGUMENT);
  });

  test("the namespace defaults to 'default' and must be one subject token", () => {
    expect(Subjects.fromEnv({ namespace: "", configFile: "c" }).namespace).toBe("default");
    expect(() => Subjects.fromEnv({ namespace: "a.b", configFile: "c" })).toThrow(/cannot be a NATS subject token/);
  });
});
