import { describe, expect, test } from "bun:test";
import { logLevel } from "kafkajs";
import { createLogger } from "../sdk/observability/logger";
import { kafkaLogCreator } from "./client";
import { headersToMetadata } from "./headers";

function capture(level: "debug" | "info") {
  const lines: Record<string, unknown>[] = [];
  const logger = createLogger({ level, write: (l) => lines.push(JSON.parse(l)) });
  return { lines, log: kafkaLogCreator(logger, 60_000)(logLevel.DEBUG) };
}
const entry = (level: logLevel, message: string) => ({
  namespace: "Connection",
  level,
  label: "",
  log: { timestamp: "t", logger: "kafkajs", message, broker: "b:1" },
});

describe("kafkajs logs through the SDK logger", () => {
  test("errors and warnings become warn lines with kafkajs's fields; info and debug become debug", () => {
    const { lines, log } = capture("debug");
    log(entry(logLevel.ERROR, "Connection error: ECONNREFUSED"));
    log(entry(logLevel.INFO, "Starting"));
    expect(lines.map((l) => [l.level, l.msg])).toEqual([
      ["warn", "kafkajs: Connection error: ECONNREFUSED"],
      ["debug", "kafkajs: Starting"],
    ]);
    expect(lines[0]).toMatchObject({ kafkajs: "Connection", broker: "b:1" });
  });

  test("a repeated warning is said once per window, and known noise not at all", () => {
    const { lines, log } = capture("info");
    for (let i = 0; i < 50; i++) log(entry(logLevel.ERROR, "Connection error: ECONNREFUSED"));
    log(entry(logLevel.WARN, "[Producer] Limiting retries for the idempotent producer may invalidate EoS guarantees"));
    log(entry(logLevel.DEBUG, "chatty"));
    expect(lines.length).toBe(1);
  });
});

describe("headers", () => {
  test("record headers become string metadata; repeated headers keep the last value", () => {
    expect(headersToMetadata({ a: Buffer.from("1"), b: [Buffer.from("x"), Buffer.from("y")], c: "plain" })).toEqual({ a: "1", b: "y", c: "plain" });
    expect(headersToMetadata(undefined)).toEqual({});
  });
});
