/**
 * Start-up failures are clear and fatal: a bad proxy config, a pattern that
 * refuses its configuration, a missing executable — each exits 1 with a message
 * naming file, key and line, and leaves no pattern process behind.
 */
import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT, startProcess } from "../helpers/process";
import { pidAlive, requireBuilt } from "./harness";

/** Runs dist/proxy with this config until it exits; returns exit code and output. */
async function runProxy(yaml: string): Promise<{ code: number; output: string; file: string }> {
  requireBuilt("proxy", "memstore");
  const dir = mkdtempSync(join(tmpdir(), "prism-proxy-startup-"));
  const file = join(dir, "proxy.yaml");
  writeFileSync(file, yaml);
  const p = startProcess([`${ROOT}/dist/proxy`, "--config", file, "--listen", "127.0.0.1:0", "--admin-port", "0", "--patterns-dir", `${ROOT}/dist`]);
  const timer = setTimeout(() => p.proc.kill("SIGKILL"), 20_000);
  const code = await p.exited;
  clearTimeout(timer);
  rmSync(dir, { recursive: true, force: true });
  return { code, output: p.output(), file };
}

describe("proxy start-up errors", () => {
  test("an unknown key in the proxy config: exit 1 naming file, line and key", async () => {
    const r = await runProxy("listen: 127.0.0.1:0\nnamespaces:\n  - name: default\n    patern: memstore\n");
    expect(r.code).toBe(1);
    expect(r.output).toContain(`proxy: ${r.file}:4: namespaces[0].patern: unknown key`);
  }, 20_000);

  test("a pattern that refuses its config: exit 1 naming the namespace's config key, and the pattern is gone", async () => {
    const r = await runProxy("namespaces:\n  - name: default\n    pattern: memstore\n    config:\n      max_keys: lots\n");
    expect(r.code).toBe(1);
    expect(r.output).toMatch(
      new RegExp(`proxy: ${r.file}:4: namespaces\\[0\\]\\.config: pattern memstore of namespace "default" refused its configuration: .*max_keys`),
    );
    const pid = Number(/"msg":"serving","component":"memstore","pid":(\d+)/.exec(r.output)?.[1]);
    expect(pid).toBeGreaterThan(0);
    expect(pidAlive(pid)).toBe(false);
  }, 20_000);

  test("a pattern executable that does not exist: exit 1 naming it", async () => {
    const r = await runProxy("namespaces:\n  - name: default\n    pattern: nosuchpattern\n");
    expect(r.code).toBe(1);
    expect(r.output).toContain(`${r.file}:3: namespaces[0].pattern: no pattern executable ${ROOT}/dist/nosuchpattern`);
  }, 20_000);

  test("slots on a pattern that declares none are refused at start-up", async () => {
    const r = await runProxy("namespaces:\n  - name: default\n    pattern: memstore\n    slots:\n      kv: { driver: redis }\n");
    expect(r.code).toBe(1);
    expect(r.output).toContain(`${r.file}:4: namespaces[0].slots: namespace "default": pattern memstore declares no slots`);
  }, 20_000);
});
