import { describe, expect, test } from "bun:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code, PrismError, toGrpcStatus } from "../grpc/errors";
import { createLogger } from "../observability/logger";
import { isSecretRef, redact, registerSecret, resolveSecrets } from "./secrets";
import { ConfigError, parseYaml } from "./yaml";

const dir = mkdtempSync(join(tmpdir(), "prism-secrets-"));

describe("secret references", () => {
  test("{file} and {env} resolve anywhere in the tree; other values stay", () => {
    writeFileSync(join(dir, "pw"), "file-secret-1\n");
    const src = parseYaml(`a: 1\nb:\n  password: { file: ${join(dir, "pw")} }\n  list: [ { env: PRISM_T_TOKEN }, x ]\n`, "p.yaml");
    const out = resolveSecrets(src.value, { file: "p.yaml", lineOf: src.lineOf, env: { PRISM_T_TOKEN: "env-secret-2" } });
    expect(out).toEqual({ a: 1, b: { password: "file-secret-1", list: ["env-secret-2", "x"] } });
  });

  test("a missing file or variable is a ConfigError naming key and line, never a value", () => {
    const src = parseYaml("x:\n  password: { env: PRISM_T_MISSING }\n", "p.yaml");
    const err = (() => {
      try {
        resolveSecrets(src.value, { file: "p.yaml", lineOf: src.lineOf, env: {} });
      } catch (e) {
        return e as ConfigError;
      }
    })();
    expect(err).toBeInstanceOf(ConfigError);
    expect(err!.message).toBe("p.yaml:2: x.password: environment variable PRISM_T_MISSING is not set");
    expect(() => resolveSecrets({ k: { file: join(dir, "nope") } }, { file: "f" })).toThrow("k: cannot read secret file");
  });

  test("only single-key {file}/{env} maps with a string are references", () => {
    expect(isSecretRef({ file: "x" })).toBe(true);
    expect(isSecretRef({ env: "X" })).toBe(true);
    expect(isSecretRef({ file: "x", mode: 1 })).toBe(false);
    expect(isSecretRef({ file: 3 })).toBe(false);
    expect(isSecretRef(["file"])).toBe(false);
  });
});

describe("redaction", () => {
  test("resolved and inline secret values are hidden from logs, status messages and text", () => {
    resolveSecrets({ password: { env: "S" }, nested: { api_token: "inline-tok-3" } }, { file: "f", env: { S: "p@ss word/4" } });
    const lines: string[] = [];
    const log = createLogger({ write: (l) => lines.push(l) });
    log.error("connect failed", { err: new Error("WRONGPASS for p@ss word/4"), url: `redis://:${encodeURIComponent("p@ss word/4")}@h` });
    log.info("token inline-tok-3 used");
    const all = lines.join("\n");
    expect(all).not.toContain("p@ss word/4");
    expect(all).not.toContain(encodeURIComponent("p@ss word/4"));
    expect(all).not.toContain("inline-tok-3");
    expect(all).toContain("[redacted]");
    expect(toGrpcStatus(new PrismError(Code.UNAVAILABLE, "auth p@ss word/4 refused")).details).toBe("auth [redacted] refused");
    expect(redact("nothing secret here")).toBe("nothing secret here");
  });

  test("very short values are not redacted (they would mangle every line)", () => {
    registerSecret("prism");
    expect(redact("prism.interfaces.keyvalue")).toBe("prism.interfaces.keyvalue");
  });
});
