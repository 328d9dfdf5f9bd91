/**
 * A nats-server of a test's own, on a free loopback port with JetStream in a temporary directory: it can be
 * stopped and started again (same port, same data) without disturbing the shared server of scripts/services.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { freePort, startOnFreePort } from "../helpers/ports";
import { startProcess, type StartedProcess } from "../helpers/process";

export { freePort };

/** The nats-server that scripts/services installs: on PATH (Debian package) or built into the cache. */
export function natsServerBinary(): string {
  const onPath = Bun.which("nats-server");
  if (onPath) return onPath;
  const cache = process.env.PRISM_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "prism");
  if (existsSync(cache)) {
    for (const d of readdirSync(cache)
      .filter((n) => n.startsWith("nats-server-"))
      .sort()
      .reverse()) {
      const bin = join(cache, d, "bin", "nats-server");
      if (existsSync(bin)) return bin;
    }
  }
  throw new Error("nats-server not found: run `make services` (scripts/services/up.sh nats installs it)");
}

export interface DedicatedNats {
  readonly url: string;
  readonly port: number;
  /** Stops the server (SIGKILL: an abrupt loss, as a crash would be); its data stays. */
  stop(): Promise<void>;
  /** Starts it again on the same port with the same data; resolves once it accepts clients. */
  start(): Promise<void>;
  /** Stops it and removes its data. */
  close(): Promise<void>;
  /** SIGSTOP / SIGCONT: it keeps its connections but stops answering (a hung server). */
  pause(): void;
  resume(): void;
}

/**
 * Starts a dedicated nats-server with JetStream and an 8 MB max_payload (the default 1 MB cannot carry a
 * 1 MiB payload plus headers), on `opts.port` or a free port; `started: false` prepares it without starting.
 */
export async function startNatsServer(opts: NatsServerOptions = {}): Promise<DedicatedNats> {
  if (opts.port !== undefined || opts.started === false) return natsServer(opts.port ?? (await freePort()), opts);
  // On a port found free just before: tried again on another if a test beside this one took it meanwhile.
  return startOnFreePort(
    (port) => natsServer(port, { ...opts, started: false }),
    (nats) => nats.start(),
    (nats) => nats.close(),
  );
}

interface NatsServerOptions {
  port?: number;
  started?: boolean;
  extraConf?: string;
}

async function natsServer(port: number, opts: NatsServerOptions): Promise<DedicatedNats> {
  const bin = natsServerBinary();
  const dir = mkdtempSync(join(tmpdir(), "prism-nats-"));
  const conf = join(dir, "nats.conf");
  writeFileSync(conf, `host: 127.0.0.1\nport: ${port}\nmax_payload: 8MB\njetstream {\n  store_dir: "${join(dir, "js")}"\n}\n${opts.extraConf ?? ""}`);
  let proc: StartedProcess | undefined;
  const start = async () => {
    proc = startProcess([bin, "-c", conf]);
    await proc.waitFor(/Server is ready/, 20_000);
  };
  const stop = async () => {
    const p = proc;
    proc = undefined;
    if (!p) return;
    p.proc.kill("SIGKILL");
    await p.exited;
  };
  if (opts.started !== false) await start();
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    stop,
    start,
    pause: () => void proc?.proc.kill("SIGSTOP"),
    resume: () => void proc?.proc.kill("SIGCONT"),
    close: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
