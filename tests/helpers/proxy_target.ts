/**
 * Runs a pattern behind dist/proxy for the acceptance suites: the proxy launches the pattern from dist/ for
 * one namespace and the target's calls carry `x-prism-namespace`, so the suites exercise the whole path.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT, startProcess } from "./process";
import type { Target } from "../acceptance/target";

/**
 * Starts the proxy with one namespace served by `pattern` (launched from dist/) with `config`; `slots` (for a
 * pattern composed of backends) goes into the namespace entry as `slots:`.
 */
export async function proxyTarget(
  pattern: string,
  namespace: string,
  config: Record<string, unknown>,
  onClose?: () => Promise<void>,
  slots?: Record<string, { driver: string; config?: Record<string, unknown> } | Record<string, unknown>[]>,
  /** More keys of the namespace entry, e.g. `{replicas: 2}`. */
  entry?: Record<string, unknown>,
): Promise<Target & { pid: number; output(): string }> {
  const dir = mkdtempSync(join(tmpdir(), "prism-proxy-"));
  const file = join(dir, "proxy.yaml");
  writeFileSync(
    file,
    JSON.stringify({
      listen: "127.0.0.1:0",
      admin: { port: 0 },
      patterns_dir: join(ROOT, "dist"),
      namespaces: [{ name: namespace, pattern, config, ...(slots ? { slots } : {}), ...entry, settings: { health_interval: "500ms", start_timeout: "30s" } }],
    }),
  );
  const p = startProcess([join(ROOT, "dist", "proxy"), "--config", file]);
  try {
    const m = await p.waitFor(/prism proxy listening on (\S+)/, 45_000);
    return {
      address: m[1]!,
      metadata: { "x-prism-namespace": namespace },
      pid: p.pid,
      output: p.output,
      close: async () => {
        const code = await p.stop(20_000);
        rmSync(dir, { recursive: true, force: true });
        await onClose?.();
        if (code !== 0) throw new Error(`proxy exited with ${code}:\n${p.output().slice(-4000)}`);
      },
    };
  } catch (err) {
    await p.stop();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}
