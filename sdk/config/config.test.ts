import { describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseBytes, parseDuration, validate, type Schema } from "./schema";
import { loadSettings } from "./settings";
import { ConfigError, parseYaml } from "./yaml";

const schema: Schema = {
  type: "object",
  fields: {
    listen: { type: "string", default: "127.0.0.1:8980" },
    admin: { type: "object", fields: { port: { type: "integer", min: 0, max: 65535 } } },
    namespaces: {
      type: "array",
      items: {
        type: "object",
        required: ["name"],
        fields: { name: { type: "string" }, pattern: { type: "string" }, config: { type: "any" }, timeout: { type: "duration" } },
      },
    },
  },
};

function check(text: string): unknown {
  const src = parseYaml(text, "proxy.yaml");
  return validate(src.value, schema, { file: src.file, lineOf: src.lineOf });
}

describe("config validation", () => {
  test("fills defaults and converts durations to ms", () => {
    expect(check("namespaces:\n  - name: a\n    timeout: 2s\n")).toEqual({
      listen: "127.0.0.1:8980",
      admin: {},
      namespaces: [{ name: "a", timeout: 2000 }],
    });
  });

  test("a number as a duration's default is milliseconds, a number in the file seconds (issue 18 item 5)", () => {
    const schema: Schema = { type: "object", fields: { idle: { type: "duration", default: 300_000 }, window: { type: "duration", default: "2m" } } };
    expect(validate({}, schema, { file: "t.yaml" })).toEqual({ idle: 300_000, window: 120_000 });
    expect(validate({ idle: 30 }, schema, { file: "t.yaml" })).toEqual({ idle: 30_000, window: 120_000 });
  });

  test("an unknown key names file, key path and line", () => {
    const err = (() => {
      try {
        check("listen: x\nnamespaces:\n  - name: a\n    patern: memstore\n");
      } catch (e) {
        return e as ConfigError;
      }
    })();
    expect(err).toBeInstanceOf(ConfigError);
    expect(err!.key).toBe("namespaces[0].patern");
    expect(err!.line).toBe(4);
    expect(err!.message).toStartWith("proxy.yaml:4: namespaces[0].patern: unknown key");
  });

  test("a wrong type names the key and the line", () => {
    expect(() => check("admin:\n  port: nine\n")).toThrow("proxy.yaml:2: admin.port: must be a number");
    expect(() => check("admin:\n  port: 70000\n")).toThrow("must be at most 65535");
    expect(() => check("namespaces:\n  - pattern: x\n")).toThrow("namespaces[0].name: is required");
  });

  test("YAML syntax errors carry the line", () => {
    expect(() => parseYaml("a: 1\nb: [1,\n", "bad.yaml")).toThrow(/^bad\.yaml:\d+:/);
  });

  test("durations and sizes", () => {
    expect(parseDuration("500ms")).toBe(500);
    expect(parseDuration("30s")).toBe(30_000);
    expect(parseDuration(2)).toBe(2000);
    expect(parseDuration("2 weeks")).toBeUndefined();
    expect(parseBytes("1MiB")).toBe(1 << 20);
    expect(parseBytes("4KB")).toBe(4000);
    expect(parseBytes(-1)).toBeUndefined();
  });
});

describe("process settings", () => {
  test("flags win over PRISM_* env, env over defaults", async () => {
    const s = await loadSettings(["--grpc-port", "7000"], { PRISM_GRPC_PORT: "7001", PRISM_METRICS_PORT: "9100", PRISM_DEBUG: "true" });
    expect(s.grpcPort).toBe(7000);
    expect(s.metricsPort).toBe(9100);
    expect(s.debug).toBe(true);
    expect(s.traceExporter).toBe("stdout");
    expect(s.traceParentRequired).toBe(false);
    expect(s.shutdownTimeoutMs).toBe(30_000);
    // What the proxy sets on the patterns it launches with tracing on.
    expect((await loadSettings([], { PRISM_TRACE_PARENT_REQUIRED: "true" })).traceParentRequired).toBe(true);
  });

  test("config file: lifecycle.shutdown_timeout is the SDK's, the rest is the pattern's", async () => {
    const dir = mkdtempSync(join(tmpdir(), "prism-settings-"));
    const file = join(dir, "p.yaml");
    writeFileSync(file, "max_keys: 5\nlifecycle:\n  shutdown_timeout: 2s\n");
    const s = await loadSettings(["--config", file], {});
    expect(s.shutdownTimeoutMs).toBe(2000);
    expect(s.patternConfig).toEqual({ max_keys: 5 });
    expect(s.source?.lineOf(["max_keys"])).toBe(1);
  });

  test("the lifecycle section is checked like any other: unknown keys and bad durations name key and line", async () => {
    const dir = mkdtempSync(join(tmpdir(), "prism-settings-"));
    const typo = join(dir, "typo.yaml");
    writeFileSync(typo, "max_keys: 5\nlifecycle:\n  shutdown_timout: 2s\n");
    await expect(loadSettings(["--config", typo], {})).rejects.toThrow(`${typo}:3: lifecycle.shutdown_timout: unknown key`);
    const bad = join(dir, "bad.yaml");
    writeFileSync(bad, "lifecycle:\n  shutdown_timeout: soon\n");
    await expect(loadSettings(["--config", bad], {})).rejects.toThrow(`${bad}:2: lifecycle.shutdown_timeout: must be a duration`);
  });

  test("bad flags and values are ConfigErrors", async () => {
    await expect(loadSettings(["--grpc-port", "http"], {})).rejects.toThrow("--grpc-port");
    await expect(loadSettings(["--trace-exporter", "jaeger"], {})).rejects.toThrow("stdout, otlp, none");
    await expect(loadSettings(["--no-such-flag"], {})).rejects.toThrow(ConfigError);
    await expect(loadSettings(["--config", "/nonexistent/x.yaml"], {})).rejects.toThrow("cannot read file");
  });
});
