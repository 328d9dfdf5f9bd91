import { randomBytes } from "node:crypto";
import { closeSync, existsSync, writeSync } from "node:fs";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { ConfigError, LAUNCH_TOKEN_FD, LAUNCH_TOKEN_FD_ENV } from "@prism/sdk";

/** Process-level flags the proxy passes on to every pattern it launches. */
export interface LaunchOptions {
  patternsDir: string;
  /** host:port of the proxy's ProxyControlPlane. */
  controlPlane: string;
  logFormat: "json" | "text";
  debug: boolean;
  tracing?: "stdout" | "otlp" | "none";
  /**
   * A directory only the proxy's user can open (0700): each launched pattern serves
   * its data on a Unix socket in it instead of a TCP port, so no other local user
   * can call it, and the hop skips the TCP stack. Without it, a loopback TCP port.
   */
  socketDir?: string;
}

/** A launched pattern process. */
export interface LaunchedProcess {
  readonly pid: number;
  /**
   * One-time secret the process must present when it registers (x-prism-launch-token), from its own pid. Handed
   * over on an inherited socket it reads once and closes: never on its command line or in its environment.
   */
  readonly launchToken: string;
  readonly exited: Promise<{ code: number | null; signal: string | null }>;
  kill(signal: NodeJS.Signals): void;
  readonly running: boolean;
}

/** Settings the proxy owns for its children; inherited PRISM_* values must not override them. */
const STRIPPED_ENV = [
  "PRISM_LAUNCH_TOKEN",
  LAUNCH_TOKEN_FD_ENV,
  "PRISM_CONFIG",
  "PRISM_GRPC_PORT",
  "PRISM_GRPC_SOCKET",
  "PRISM_METRICS_PORT",
  "PRISM_PROXY_ADDR",
  "PRISM_LISTEN",
  "PRISM_ADMIN_PORT",
];

/** The executable of a pattern; a missing one is a configuration error naming the key. */
export function patternExecutable(patternsDir: string, pattern: string, where: { file: string; key: string; line?: number }): string {
  const exe = join(patternsDir, pattern);
  if (!existsSync(exe)) {
    throw new ConfigError(where.file, where.key, where.line, `no pattern executable ${exe} (build it with make build-plugins, or set patterns_dir)`);
  }
  return exe;
}

let launches = 0;

/** Writes the secret to the child's end-of-file-terminated socket and closes the proxy's end. */
function handOver(fd: unknown, secret: string): void {
  if (typeof fd !== "number") throw new Error("could not open the launch-secret socket to the pattern");
  try {
    writeSync(fd, secret);
  } finally {
    closeSync(fd);
  }
}

/**
 * Starts `patterns_dir/<pattern> --grpc-socket <socketDir>/<n>.sock --proxy-addr <control plane>`
 * (or `--grpc-port 0` without a socket directory); the
 * pattern dials back and registers with its pid. Its stdout and stderr (logs) go
 * to the proxy's. If the proxy dies, the pattern sees its control stream drop and exits.
 */
export function launchPattern(exe: string, opts: LaunchOptions): LaunchedProcess {
  // A fresh name per launch: a restarted pattern never meets its predecessor's socket. Short, for the ~100-byte path limit.
  const where = opts.socketDir !== undefined ? ["--grpc-socket", join(opts.socketDir, `p${++launches}.sock`)] : ["--grpc-port", "0"];
  const args = [exe, ...where, "--proxy-addr", opts.controlPlane, "--log-format", opts.logFormat];
  if (opts.debug) args.push("--debug");
  if (opts.tracing) args.push("--enable-tracing", "--trace-exporter", opts.tracing);
  const env: Record<string, string | undefined> = { ...process.env, PRISM_GRPC_HOST: process.env.PRISM_GRPC_HOST ?? "127.0.0.1" };
  // The proxy decides every new trace and sends no traceparent for one it leaves out (CallTracer): a call
  // without one is not traced by the pattern either. In the environment, which a pattern on an older SDK ignores.
  if (opts.tracing) env.PRISM_TRACE_PARENT_REQUIRED = "true";
  for (const k of STRIPPED_ENV) delete env[k];
  // Not in argv (anyone can read it) nor in the environment (/proc/<pid>/environ keeps it for the process's
  // lifetime): on a socket inherited as fd 3, which the pattern reads to its end and closes at start-up.
  const launchToken = randomBytes(32).toString("base64url");
  env[LAUNCH_TOKEN_FD_ENV] = String(LAUNCH_TOKEN_FD);
  // Its own process group: a terminal's Ctrl-C reaches only the proxy, which then drains and stops patterns in order.
  const proc: Subprocess = Bun.spawn(args, { stdio: ["ignore", "inherit", "inherit", "pipe"], env, detached: true });
  handOver(proc.stdio[LAUNCH_TOKEN_FD], launchToken);
  const exited = proc.exited.then(() => ({ code: proc.exitCode, signal: proc.signalCode === null ? null : String(proc.signalCode) }));
  return {
    pid: proc.pid,
    launchToken,
    exited,
    kill: (signal) => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill(signal);
    },
    get running() {
      return proc.exitCode === null && proc.signalCode === null;
    },
  };
}
