import { describe, expect, test } from "bun:test";
import { ConfigError, parseYaml } from "../sdk/config/yaml";
import { parseConfig } from "./config";

function fromYaml(text: string) {
  const src = parseYaml(text, "memstore.yaml");
  return parseConfig(src.value as Record<string, unknown>, { configFile: src.file, lineOf: src.lineOf });
}

describe("memstore config", () => {
  test("defaults", () => {
    expect(fromYaml("{}")).toEqual({
      maxKeys: 10_000,
      maxLists: 10_000,
      sweepIntervalMs: 1000,
      sweepLimit: 10_000,
      subscriberBuffer: 1000,
      maxStreamRecords: 100_000,
      maxStreams: 10_000,
    });
  });

  test("values and durations", () => {
    const c = fromYaml("max_keys: 5\nsweep_interval: 250ms\nsubscriber_buffer: 16\nmax_streams: 3\n");
    expect(c).toMatchObject({ maxKeys: 5, sweepIntervalMs: 250, subscriberBuffer: 16, maxStreams: 3 });
  });

  test("an unknown key names the key and its line", () => {
    let err: unknown;
    try {
      fromYaml("max_keys: 5\n\nmax_kyes: 6\n");
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).key).toBe("max_kyes");
    expect((err as ConfigError).line).toBe(3);
    expect((err as ConfigError).message).toContain("memstore.yaml:3: max_kyes: unknown key");
  });

  test("wrong types and bounds are errors", () => {
    expect(() => fromYaml("max_keys: lots\n")).toThrow(/max_keys: must be a number/);
    expect(() => fromYaml("max_keys: 0\n")).toThrow(/max_keys: must be at least 1/);
    expect(() => fromYaml("sweep_interval: 0s\n")).toThrow(/memstore.yaml:1: sweep_interval: must be longer than 0/);
    expect(() => fromYaml("sweep_interval: soon\n")).toThrow(/sweep_interval: must be a duration/);
  });
});
