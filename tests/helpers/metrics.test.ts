import { describe, expect, test } from "bun:test";
import { sample } from "./metrics";

const PAGE = [
  "# HELP x_total help",
  "# TYPE x_total counter",
  'x_total{driver="nats",topic="a,b"} 3',
  'x_total{topic="",driver="nats"} 0',
  'x_total{driver="nats",topic="q\\"t"} 7',
  "x_total_other 9",
  "y 1.5",
].join("\n");

describe("sample", () => {
  test("finds a series by its exact label set, in any order", () => {
    expect(sample(PAGE, "x_total", { driver: "nats", topic: "a,b" })).toBe(3);
    expect(sample(PAGE, "x_total", { driver: "nats", topic: "" })).toBe(0);
    expect(sample(PAGE, "x_total", { topic: 'q"t', driver: "nats" })).toBe(7);
    expect(sample(PAGE, "y")).toBe(1.5);
  });

  test("is undefined for a missing series, a subset of labels, or a longer name", () => {
    expect(sample(PAGE, "x_total", { driver: "nats" })).toBeUndefined();
    expect(sample(PAGE, "x_total", { driver: "kafka", topic: "" })).toBeUndefined();
    expect(sample(PAGE, "x")).toBeUndefined();
  });
});
