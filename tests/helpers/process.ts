import type { Subprocess } from "bun";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

/** Repository root, for locating dist/ executables from any test file. */
export const ROOT = resolve(import.meta.dir, "../..");

/** A process a test started; stop it by its pid, never by name. */
export interface StartedProcess {
  readonly proc: Subprocess<"ignore", "pipe", "pipe">;
  readonly pid: number;
  /** Everything printed so far (stdout and stderr interleaved). */
  output(): string;
  /** Resolves with the first regex match in the output, or rejects after timeoutMs / on exit. */
  waitFor(re: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** SIGTERM, then SIGKILL after graceMs; resolves with the exit code. */
  stop(graceMs?: number): Promise<number | null>;
  readonly exited: Promise<number>;
}

/** Starts an executable (e.g. dist/memstore) and captures its output. */
export function startProcess(cmd: string[], opts: { env?: Record<string, string>; cwd?: string } = {}): StartedProcess {
  const proc = Bun.spawn(cmd, {
    cwd: opts.cwd ?? ROOT,
    env: { ...process.env, ...opts.env },
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  let buffer = "";
  const listeners = new Set<() => void>();
  const drain = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) {
      buffer += decoder.decode(chunk, { stream: true });
      for (const l of listeners) l();
    }
  };
  void drain(proc.stdout);
  void drain(proc.stderr);
  const exited = proc.exited;
  const waitFor = (re: RegExp, timeoutMs = 10_000) =>
    new Promise<RegExpMatchArray>((resolvePromise, reject) => {
      const check = () => {
        const m = buffer.match(re);
        if (m) {
          cleanup();
          resolvePromise(m);
        }
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${re} from ${cmd.join(" ")}; output:\n${buffer}`));
      }, timeoutMs);
      const cleanup = () => {
        clearTimeout(timer);
        listeners.delete(check);
      };
      listeners.add(check);
      void exited.then((code) => {
        setTimeout(() => {
          if (!listeners.has(check)) return;
          cleanup();
          reject(new Error(`${cmd.join(" ")} exited with ${code} before printing ${re}; output:\n${buffer}`));
        }, 50);
      });
      check();
    });
  const stop = async (graceMs = 5_000) => {
    if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
    proc.kill("SIGTERM");
    const timer = setTimeout(() => proc.kill("SIGKILL"), graceMs);
    const code = await exited;
    clearTimeout(timer);
    return code;
  };
  return { proc, pid: proc.pid, output: () => buffer, waitFor, stop, exited };
}

/** A pattern executable started with --grpc-port 0, once it prints its address. */
export interface StartedPattern extends StartedProcess {
  /** host:port of its gRPC server. */
  readonly address: string;
}

/** Starts dist/<name> and waits for "grpc listening on HOST:PORT". */
export async function startPattern(name: string, args: string[] = [], env?: Record<string, string>): Promise<StartedPattern> {
  const p = startProcess([`${ROOT}/dist/${name}`, "--grpc-port", "0", ...args], { env });
  try {
    const m = await p.waitFor(/grpc listening on (\S+)/);
    return { ...p, address: m[1]! };
  } catch (err) {
    await p.stop(1000);
    throw err;
  }
}

/** A pattern started from a config map; `close` stops it by pid and fails unless it exited 0. */
export interface ConfiguredPattern {
  readonly address: string;
  readonly pid: number;
  output(): string;
  close(): Promise<void>;
}

/**
 * Starts dist/<name> with `config` written to a temporary --config file (JSON is
 * YAML). `close` stops the process, removes the file, runs `onClose` (e.g. drop
 * the test's topics or stop its dedicated server), then reports an unclean exit.
 */
export async function configuredPattern(
  name: string,
  config: Record<string, unknown>,
  onClose?: () => Promise<void>,
  args: string[] = [],
): Promise<ConfiguredPattern> {
  const dir = mkdtempSync(join(tmpdir(), `prism-${name}-cfg-`));
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, JSON.stringify(config));
  let p: StartedPattern;
  try {
    p = await startPattern(name, ["--config", file, ...args]);
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    address: p.address,
    pid: p.pid,
    output: p.output,
    close: async () => {
      const code = await p.stop(15_000);
      rmSync(dir, { recursive: true, force: true });
      await onClose?.();
      if (code !== 0) throw new Error(`${name} pattern exited with ${code}:\n${p.output().slice(-4000)}`);
    },
  };
}
