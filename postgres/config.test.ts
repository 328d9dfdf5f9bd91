import { describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError } from "../sdk/config/yaml";
import { parsePostgresConfig } from "./config";
import { decodeCursor, encodeCursor, keyBytes, prefixEnd } from "./keys";

const env = { configFile: "pattern.yaml", namespace: "orders", lineOf: () => 7 };
const dir = mkdtempSync(join(tmpdir(), "prism-pg-config-"));

describe("postgres config", () => {
  test("defaults", () => {
    const c = parsePostgresConfig({}, env);
    expect(c).toMatchObject({
      host: "127.0.0.1",
      port: 5432,
      database: "prism",
      user: "prism",
      password: "",
      poolSize: 10,
      statementTimeoutMs: 5000,
      healthCheck: { intervalMs: 250, timeoutMs: 750 },
      table: "prism_kv",
      namespace: "orders",
    });
    expect(c.tls).toEqual({ mode: "disable", ca: undefined, serverName: "127.0.0.1" });
    expect(parsePostgresConfig({}, { ...env, namespace: "" }).namespace).toBe("default");
  });

  test("unknown keys and bad values are ConfigErrors naming file, key and line", () => {
    const err = (cfg: Record<string, unknown>) => {
      try {
        parsePostgresConfig(cfg, env);
      } catch (e) {
        expect(e).toBeInstanceOf(ConfigError);
        return (e as Error).message;
      }
      throw new Error("accepted");
    };
    expect(err({ hostname: "x" })).toContain("hostname");
    expect(err({ health_check: { timeout: "0ms" } })).toContain("health_check.timeout");
    expect(err({ hostname: "x" })).toContain("pattern.yaml");
    expect(err({ tls: { mode: "verify-ca" } })).toContain("must be one of disable, require, verify-full");
    expect(err({ tls: { mode: "require", ca_file: "/x" } })).toContain("only with mode verify-full");
    expect(err({ tls: { mode: "verify-full", ca_file: join(dir, "missing.pem") } })).toContain("cannot read");
    expect(err({ pool_size: 0 })).toContain("pool_size");
    expect(err({ statement_timeout: "soon" })).toContain("duration");
    expect(err({ password: "a", password_file: "/b" })).toContain("either password or password_file");
    expect(err({ table: "kv; drop table x" })).toContain("identifier");
    expect(err({ table: "Upper" })).toContain("identifier");
  });

  test("password_file: first line; ca_file: PEM text; table may be schema-qualified", () => {
    const pw = join(dir, "pw");
    writeFileSync(pw, "s3cret\nignored\n");
    const ca = join(dir, "ca.pem");
    writeFileSync(ca, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
    const c = parsePostgresConfig({ password_file: pw, tls: { mode: "verify-full", ca_file: ca, server_name: "db" }, table: "prism.kv_data" }, env);
    expect(c.password).toBe("s3cret");
    expect(c.tls.ca).toContain("BEGIN CERTIFICATE");
    expect(c.tls.serverName).toBe("db");
    expect(c.table).toBe("prism.kv_data");
    writeFileSync(ca, "not a certificate");
    expect(() => parsePostgresConfig({ tls: { mode: "verify-full", ca_file: ca } }, env)).toThrow(/no PEM certificate/);
  });
});

describe("keys", () => {
  test("prefixEnd is the exclusive upper bound of the prefix's byte range", () => {
    expect(prefixEnd(keyBytes(""))).toBeUndefined();
    expect(prefixEnd(keyBytes("ab"))).toEqual(Buffer.from("ac"));
    expect(prefixEnd(Buffer.from([0x61, 0xff, 0xff]))).toEqual(Buffer.from([0x62]));
    expect(prefixEnd(Buffer.from([0xff]))).toBeUndefined();
    const end = prefixEnd(keyBytes("é"))!; // c3 a9 -> c3 aa
    expect(Buffer.compare(keyBytes("é\u{10FFFF}"), end)).toBe(-1);
    expect(Buffer.compare(keyBytes("ê"), end)).toBe(0);
  });

  test("cursors round-trip, are bound to their prefix, and garbage is INVALID_ARGUMENT", () => {
    const c = encodeCursor("p:", keyBytes("p:\0x"));
    expect(decodeCursor(c, "p:")).toEqual(keyBytes("p:\0x"));
    expect(() => decodeCursor(c, "q:")).toThrow(/another prefix/);
    for (const bad of ["", "x", "pg1..", "pg2.cDo.cDo", "pg1.cDo.!!"]) expect(() => decodeCursor(bad, "p:")).toThrow(/cursor/);
  });
});
