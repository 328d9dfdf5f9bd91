/**
 * Shared pieces of the proxy suites: start dist/proxy with a YAML config (on free
 * ports, patterns from dist/), read /patterns, typed clients through the proxy,
 * and process checks by pid.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Health } from "../../proto/gen/grpc/health/v1/health_pb";
import { KeyValueBasicInterface } from "../../proto/gen/prism/interfaces/keyvalue/keyvalue_basic_pb";
import { KeyValueBatchInterface } from "../../proto/gen/prism/interfaces/keyvalue/keyvalue_batch_pb";
import { KeyValueScanInterface } from "../../proto/gen/prism/interfaces/keyvalue/keyvalue_scan_pb";
import { KeyValueTTLInterface } from "../../proto/gen/prism/interfaces/keyvalue/keyvalue_ttl_pb";
import { LifecycleInterface } from "../../proto/gen/prism/interfaces/lifecycle_pb";
import { ListBasicInterface } from "../../proto/gen/prism/interfaces/list/list_basic_pb";
import { PubSubBasicInterface } from "../../proto/gen/prism/interfaces/pubsub/pubsub_basic_pb";
import { StreamBasicInterface } from "../../proto/gen/prism/interfaces/stream/stream_basic_pb";
import { createClient } from "../../sdk/grpc/client";
import type { CallOptions } from "../../sdk/grpc/types";
import { ROOT, startProcess, type StartedProcess } from "../helpers/process";

/** One entry of GET /patterns. */
export interface PatternSnapshot {
  namespace: string;
  pattern: string;
  mode: "launched" | "remote";
  status: string;
  ready: boolean;
  pid: number | null;
  endpoint: string | null;
  metadata: { name: string; version: string; interfaces: string[] } | null;
  health: { status: string; message: string; details: Record<string, string>; checkedAt: string } | null;
  restarts: number;
  last_exit: { pid: number; code: number | null; signal: string | null; at: string } | null;
  last_error: string | null;
}

/** A running dist/proxy. */
export interface StartedProxy extends StartedProcess {
  /** host:port of its gRPC listener. */
  readonly address: string;
  /** http://host:port of its admin server. */
  readonly admin: string;
  patterns(): Promise<PatternSnapshot[]>;
  pattern(namespace: string): Promise<PatternSnapshot>;
  metrics(): Promise<string>;
  /** The config file it was started with (a test may rewrite it). */
  readonly file: string;
  /** Removes the temporary config directory. */
  cleanup(): void;
}

/** Fails with the fix when an executable has not been built. */
export function requireBuilt(...names: string[]): void {
  for (const n of names) {
    if (!existsSync(`${ROOT}/dist/${n}`)) {
      throw new Error(
        `dist/${n} is missing: build with ./node_modules/.bin/bun scripts/build.ts memstore=memstore/main.ts proxy=proxy/main.ts prismctl=prismctl/main.ts`,
      );
    }
  }
}

/**
 * Starts dist/proxy with this YAML (listen and admin ports are picked by the proxy) and waits for its banner;
 * `env` is added to this process's environment, for the proxy and the patterns it launches.
 */
export async function startProxy(yaml: string, args: string[] = [], env?: Record<string, string>): Promise<StartedProxy> {
  requireBuilt("proxy", "memstore");
  const dir = mkdtempSync(join(tmpdir(), "prism-proxy-test-"));
  const file = join(dir, "proxy.yaml");
  writeFileSync(file, yaml);
  const p = startProcess([`${ROOT}/dist/proxy`, "--config", file, "--listen", "127.0.0.1:0", "--admin-port", "0", "--patterns-dir", `${ROOT}/dist`, ...args], {
    env,
  });
  let m: RegExpMatchArray;
  try {
    m = await p.waitFor(/prism proxy listening on (\S+)\n\s+admin: (\S+)/, 20_000);
  } catch (err) {
    await p.stop();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const admin = m[2]!;
  const patterns = async () => (await (await fetch(`${admin}/patterns`)).json()) as PatternSnapshot[];
  return {
    ...p,
    address: m[1]!,
    admin,
    file,
    patterns,
    pattern: async (ns) => {
      const found = (await patterns()).find((x) => x.namespace === ns);
      if (!found) throw new Error(`no namespace ${ns} in /patterns`);
      return found;
    },
    metrics: async () => (await fetch(`${admin}/metrics`)).text(),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** Typed clients of every data service (and lifecycle health, grpc health) through one address, on one channel. */
export function clientsFor(address: string, namespace?: string) {
  const kv = createClient(KeyValueBasicInterface, address);
  const on = kv.raw;
  const opts = (o?: CallOptions): CallOptions => ({
    timeoutMs: 10_000,
    ...o,
    metadata: { ...(namespace ? { "x-prism-namespace": namespace } : {}), ...o?.metadata },
  });
  return {
    kv: kv.client,
    ttl: createClient(KeyValueTTLInterface, on).client,
    scan: createClient(KeyValueScanInterface, on).client,
    batch: createClient(KeyValueBatchInterface, on).client,
    list: createClient(ListBasicInterface, on).client,
    pubsub: createClient(PubSubBasicInterface, on).client,
    stream: createClient(StreamBasicInterface, on).client,
    lifecycle: createClient(LifecycleInterface, on).client,
    health: createClient(Health, on).client,
    /** Call options carrying the namespace and a generous deadline. */
    opts,
    close: () => kv.close(),
  };
}

/** True while the process exists and is not a zombie (orphans re-parented to a non-reaping init stay zombies). */
export function pidAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}

/** Polls `check` until true, failing after timeoutMs (no fixed sleeps). */
export async function eventually(check: () => boolean | Promise<boolean>, what: string, timeoutMs = 10_000, intervalMs = 50): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`);
    await Bun.sleep(intervalMs);
  }
}

/** Kills pids a test may have left running (by pid only), e.g. patterns of a proxy killed with SIGKILL. */
export function killIfAlive(pids: readonly (number | null | undefined)[]): void {
  for (const pid of pids) {
    if (pid && pidAlive(pid)) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        /* gone */
      }
    }
  }
}

export const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
export const text = (b: Uint8Array): string => new TextDecoder().decode(b);
