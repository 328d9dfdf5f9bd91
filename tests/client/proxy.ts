/**
 * dist/proxy with the namespaces a client test needs (memstore and the Multicast Registry on memstore slots), on
 * free ports; resolves once every namespace's pattern is ready. Stopped by pid.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { ROOT, startProcess } from "../helpers/process";
import { waitFor } from "../helpers/wait";

export interface Namespace {
  name: string;
  pattern: string;
  config?: Record<string, unknown>;
  slots?: Record<string, { driver: string; config?: Record<string, unknown> }>;
}

/** A key-value namespace and a presence (multicast registry) namespace, all in memory. */
export const MEMORY_NAMESPACES: Namespace[] = [
  { name: "kv", pattern: "memstore" },
  { name: "presence", pattern: "multicast-registry", slots: { registry: { driver: "memstore" }, messaging: { driver: "memstore" } } },
];

export interface RunningProxy {
  address: string;
  admin: string;
  pid: number;
  output(): string;
  close(): Promise<void>;
}

export function startProxy(namespaces: Namespace[] = MEMORY_NAMESPACES): Promise<RunningProxy> {
  const settings = { health_interval: "500ms", start_timeout: "30s" };
  return startProxyWith({ namespaces: namespaces.map((n) => ({ ...n, settings })) });
}

/** The namespaces of config/proxy.yaml, the file `make run` starts the proxy with. */
export function makeRunNamespaces(): Namespace[] {
  return (parse(readFileSync(join(ROOT, "config/proxy.yaml"), "utf8")) as { namespaces: Namespace[] }).namespaces;
}

/** dist/proxy with this configuration, on free ports, with patterns from dist/. */
export async function startProxyWith(config: { namespaces: object[] }): Promise<RunningProxy> {
  const namespaces = config.namespaces;
  const dir = mkdtempSync(join(tmpdir(), "prism-client-"));
  const file = join(dir, "proxy.yaml");
  writeFileSync(file, JSON.stringify({ ...config, listen: "127.0.0.1:0", admin: { port: 0 }, patterns_dir: join(ROOT, "dist") }));
  const p = startProcess([join(ROOT, "dist", "proxy"), "--config", file]);
  const stop = async () => {
    const code = await p.stop(20_000);
    rmSync(dir, { recursive: true, force: true });
    return code;
  };
  try {
    const address = (await p.waitFor(/prism proxy listening on (\S+)/, 45_000))[1]!;
    const admin = (await p.waitFor(/admin: (\S+)/, 5_000))[1]!.replace(/^https?:\/\//, "");
    await waitFor(
      async () => {
        const rows = (await (await fetch(`http://${admin}/patterns`)).json()) as { ready: boolean }[];
        return rows.length === namespaces.length && rows.every((r) => r.ready);
      },
      "every namespace's pattern ready",
      { timeoutMs: 45_000, intervalMs: 100 },
    );
    return {
      address,
      admin,
      pid: p.pid,
      output: p.output,
      close: async () => {
        const code = await stop();
        if (code !== 0) throw new Error(`proxy exited with ${code}:\n${p.output().slice(-4000)}`);
      },
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

export interface CtlResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs dist/prismctl with `args` and an environment of PATH and `env` only (no PRISM_* from the test's own),
 * killed after `timeoutMs`.
 */
export async function runPrismctl(args: string[], env: Record<string, string> = {}, timeoutMs = 30_000): Promise<CtlResult> {
  const p = Bun.spawn([`${ROOT}/dist/prismctl`, ...args], { stdout: "pipe", stderr: "pipe", env: { PATH: process.env.PATH ?? "", ...env } });
  const timer = setTimeout(() => p.kill(), timeoutMs);
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  clearTimeout(timer);
  return { code, stdout, stderr };
}

/** prismctl against one namespace of a running proxy. */
export function prismctlOn(proxy: () => RunningProxy, namespace: string, timeoutMs?: number) {
  return (...args: string[]) => runPrismctl(["--addr", proxy().address, "-n", namespace, ...args], {}, timeoutMs);
}
