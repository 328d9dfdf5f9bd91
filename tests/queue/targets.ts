/**
 * dist/queue over each backend of the `queue` slot, run directly (its own --config, on a fixed port so a restart
 * comes back at the same address) or launched by dist/proxy for one namespace. A backend joins the suite with one
 * entry in BACKENDS (and a one-line test file per mode); what it can do is asked of the pattern (GetCapabilities).
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { freePort } from "../helpers/ports";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT, type StartedProcess, startProcess } from "../helpers/process";
import { requireService, type ServiceName } from "../helpers/services";
import { waitFor } from "../helpers/wait";

export type SlotMap = Record<string, { driver: string; config?: Record<string, unknown> }>;

export interface QueueBackend {
  name: string;
  needs: ServiceName[];
  /** The slots for a namespace of its own, and how to remove what the run left in the backend. */
  slots(namespace: string): Promise<{ slots: SlotMap; cleanup: () => Promise<void> }>;
}

export interface QueueTarget {
  readonly name: string;
  /** Where clients connect now (a file too: consumer processes re-read it when they reconnect). */
  address(): string;
  readonly addressFile: string;
  readonly metadata: Record<string, string>;
  /** Kills the pattern process (SIGKILL) and waits until it serves again. */
  restartPattern(): Promise<void>;
  /** Pid of the pattern process serving now. */
  patternPid(): Promise<number>;
  close(): Promise<void>;
}

export const uniqueNamespace = (label: string) => `q-${label.replace(/[^a-z0-9]+/g, "-").slice(0, 16)}-${randomBytes(3).toString("hex")}`;

/** The pattern run directly from its own config file, on a port kept across restarts. */
export async function directTarget(backend: QueueBackend, settings: Record<string, unknown>): Promise<QueueTarget> {
  for (const s of backend.needs) await requireService(s);
  const ns = uniqueNamespace(backend.name);
  const { slots, cleanup } = await backend.slots(ns);
  const dir = mkdtempSync(join(tmpdir(), "prism-queue-"));
  const file = join(dir, "queue.yaml");
  const addressFile = join(dir, "address");
  writeFileSync(file, JSON.stringify({ namespace: ns, ...settings, slots }));
  const port = await freePort();
  const address = `127.0.0.1:${port}`;
  writeFileSync(addressFile, address);
  const start = async (): Promise<StartedProcess> => {
    const p = startProcess([join(ROOT, "dist", "queue"), "--grpc-port", String(port), "--config", file]);
    try {
      await p.waitFor(/grpc listening on/, 30_000);
    } catch (err) {
      await p.stop(1000);
      throw err;
    }
    return p;
  };
  let p = await start();
  return {
    name: backend.name,
    address: () => address,
    addressFile,
    metadata: {},
    patternPid: async () => p.pid,
    async restartPattern() {
      p.proc.kill("SIGKILL");
      await p.exited;
      p = await start();
    },
    async close() {
      const code = await p.stop(15_000);
      rmSync(dir, { recursive: true, force: true });
      await cleanup();
      if (code !== 0) throw new Error(`queue pattern exited with ${code}:\n${p.output().slice(-4000)}`);
    },
  };
}

interface PatternEntry {
  namespace: string;
  status: string;
  pid: number | null;
}

/** The pattern launched by dist/proxy for one namespace (slots in the namespace entry); restarts are the proxy's. */
export async function proxyTarget(backend: QueueBackend, settings: Record<string, unknown>): Promise<QueueTarget> {
  for (const s of backend.needs) await requireService(s);
  const ns = uniqueNamespace(`p-${backend.name}`);
  const { slots, cleanup } = await backend.slots(ns);
  const dir = mkdtempSync(join(tmpdir(), "prism-queue-proxy-"));
  const file = join(dir, "proxy.yaml");
  const addressFile = join(dir, "address");
  writeFileSync(
    file,
    JSON.stringify({
      namespaces: [
        {
          name: ns,
          pattern: "queue",
          config: settings,
          slots,
          settings: { health_interval: "500ms", start_timeout: "30s", restart_initial_delay: "100ms", restart_max_delay: "1s" },
        },
      ],
    }),
  );
  const p = startProcess([join(ROOT, "dist", "proxy"), "--config", file, "--listen", "127.0.0.1:0", "--admin-port", "0", "--patterns-dir", join(ROOT, "dist")]);
  let address: string;
  let admin: string;
  try {
    const m = await p.waitFor(/prism proxy listening on (\S+)\n\s+admin: (\S+)/, 45_000);
    address = m[1]!;
    admin = m[2]!;
  } catch (err) {
    await p.stop();
    rmSync(dir, { recursive: true, force: true });
    await cleanup();
    throw err;
  }
  writeFileSync(addressFile, address);
  const entry = async () => ((await (await fetch(`${admin}/patterns`)).json()) as PatternEntry[]).find((e) => e.namespace === ns)!;
  const serving = (what: string, ok: (e: PatternEntry) => boolean) =>
    waitFor(
      async () => {
        const e = await entry();
        return e.status === "serving" && e.pid !== null && ok(e) ? e : undefined;
      },
      what,
      { timeoutMs: 45_000, intervalMs: 100 },
    );
  await serving("the queue pattern serves behind the proxy", () => true);
  return {
    name: `${backend.name} through the proxy`,
    address: () => address,
    addressFile,
    metadata: { "x-prism-namespace": ns },
    patternPid: async () => (await serving("the queue pattern serves", () => true))!.pid!,
    async restartPattern() {
      const old = (await entry()).pid!;
      process.kill(old, "SIGKILL");
      await serving("the proxy restarted the killed queue pattern", (e) => e.pid !== old);
    },
    async close() {
      const pid = (await entry().catch(() => undefined))?.pid;
      const code = await p.stop(20_000);
      if (pid) {
        try {
          process.kill(pid, 0);
          process.kill(pid, "SIGKILL");
        } catch {
          // Already gone, as it should be.
        }
      }
      rmSync(dir, { recursive: true, force: true });
      await cleanup();
      if (code !== 0) throw new Error(`proxy exited with ${code}:\n${p.output().slice(-4000)}`);
    },
  };
}
