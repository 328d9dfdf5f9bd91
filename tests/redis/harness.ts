/**
 * Shared pieces of the Redis suites: start dist/redis with a config, typed clients for every interface it
 * serves, direct ioredis access for checking what landed in Redis, and a dedicated redis-server that a test
 * may stop and restart by pid without disturbing the shared one.
 */
import { Redis } from "ioredis";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KeyValueBasicInterface } from "../../proto/gen/prism/interfaces/keyvalue/keyvalue_basic_pb";
import { KeyValueBatchInterface } from "../../proto/gen/prism/interfaces/keyvalue/keyvalue_batch_pb";
import { KeyValueScanInterface } from "../../proto/gen/prism/interfaces/keyvalue/keyvalue_scan_pb";
import { KeyValueTTLInterface } from "../../proto/gen/prism/interfaces/keyvalue/keyvalue_ttl_pb";
import { LifecycleInterface } from "../../proto/gen/prism/interfaces/lifecycle_pb";
import { ListBasicInterface } from "../../proto/gen/prism/interfaces/list/list_basic_pb";
import { PubSubBasicInterface } from "../../proto/gen/prism/interfaces/pubsub/pubsub_basic_pb";
import { createClient } from "../../sdk/grpc/client";
import { PrismError } from "../../sdk/grpc/errors";
import { ROOT, startProcess, type StartedPattern, type StartedProcess } from "../helpers/process";
import { redisUrl, requireService } from "../helpers/services";
import { freePort, onFreePort, startOnFreePort } from "../helpers/ports";

/** A namespace no other test run uses, so suites sharing one Redis never collide. */
export { freePort };

export function uniqueNamespace(label: string): string {
  return `test-${label}-${randomBytes(4).toString("hex")}`;
}

/** Fails with the fix when dist/redis has not been built. */
export function requireBuilt(): void {
  if (!existsSync(`${ROOT}/dist/redis`)) {
    throw new Error("dist/redis is missing: build it with `./node_modules/.bin/bun scripts/build.ts redis=redis/main.ts` (or `make build-plugins`)");
  }
}

/** The shared Redis the suites use (PRISM_TEST_REDIS_URL), failing with "run make services" when it is down. */
export async function sharedRedisAddress(): Promise<string> {
  await requireService("redis");
  return redisUrl();
}

export type Clients = ReturnType<typeof clientsFor>;

/** Typed clients for every interface of the pattern, on one channel. */
export function clientsFor(address: string) {
  const kv = createClient(KeyValueBasicInterface, address);
  const on = kv.raw;
  return {
    kv: kv.client,
    ttl: createClient(KeyValueTTLInterface, on).client,
    scan: createClient(KeyValueScanInterface, on).client,
    batch: createClient(KeyValueBatchInterface, on).client,
    list: createClient(ListBasicInterface, on).client,
    pubsub: createClient(PubSubBasicInterface, on).client,
    lifecycle: createClient(LifecycleInterface, on).client,
    close: () => kv.close(),
  };
}

/** A running dist/redis with its clients. */
export interface RedisPattern {
  readonly proc: StartedPattern;
  readonly address: string;
  readonly metricsPort: number;
  readonly clients: Clients;
  stop(): Promise<void>;
}

/** Starts dist/redis with this pattern config (written as a YAML file), an HTTP metrics port and any extra flags. */
export function startRedisPattern(config: Record<string, unknown>, flags: string[] = []): Promise<RedisPattern> {
  requireBuilt();
  return onFreePort((metricsPort) => startRedisPatternOn(metricsPort, config, flags));
}

async function startRedisPatternOn(metricsPort: number, config: Record<string, unknown>, flags: string[]): Promise<RedisPattern> {
  const dir = mkdtempSync(join(tmpdir(), "prism-redis-test-"));
  const file = join(dir, "redis.yaml");
  writeFileSync(file, JSON.stringify(config)); // JSON is YAML
  const started = startProcess([`${ROOT}/dist/redis`, "--grpc-port", "0", "--config", file, "--metrics-port", String(metricsPort), ...flags]);
  let proc: StartedPattern;
  try {
    proc = { ...started, address: (await started.waitFor(/grpc listening on (\S+)/, 15_000))[1]! };
  } catch (err) {
    await started.stop();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  const clients = clientsFor(proc.address);
  return {
    proc,
    address: proc.address,
    metricsPort,
    clients,
    stop: async () => {
      clients.close();
      await proc.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** An ioredis client straight to Redis, for checking what the pattern wrote. */
export function directRedis(address: string): Redis {
  return new Redis(address, { lazyConnect: false, maxRetriesPerRequest: 1 });
}

/** Deletes every key under a prefix (SCAN + one DEL per key, never KEYS; works on a cluster node too). */
export async function deletePrefix(redis: Redis, prefix: string): Promise<void> {
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix.replace(/[*?[\]\\]/g, "\\$&")}*`, "COUNT", 1000);
    if (keys.length > 0) await redis.pipeline(keys.map((k) => ["del", k])).exec();
    cursor = next;
  } while (cursor !== "0");
}

/** Polls `check` until it returns true or timeoutMs passes; returns whether it did. */
export async function eventually(check: () => boolean | Promise<boolean>, timeoutMs: number, intervalMs = 50): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (Date.now() >= deadline) return false;
    await Bun.sleep(intervalMs);
  }
}

/** A redis-server a test owns: started on a free loopback port with its own folder, stopped by pid. */
export interface OwnRedis {
  readonly port: number;
  readonly address: string;
  readonly pid: number;
  /** SIGKILL (no chance to save) or SIGTERM. */
  stop(signal?: "SIGKILL" | "SIGTERM"): Promise<void>;
  /** SIGSTOP / SIGCONT: the server keeps its connections but stops answering. */
  pause(): void;
  resume(): void;
  /** Starts it (again) on the same port and folder (the AOF brings the data back). */
  restart(): Promise<void>;
  /** Stops it and removes its folder. */
  destroy(): Promise<void>;
}

/**
 * Starts a private redis-server (or only picks its port, with started: false); `args` adds server options. appendfsync always: Redis replies to a write only after it is on disk, so
 * "acknowledged" means durable even across SIGKILL, which is what the outage test checks.
 */
export async function startOwnRedis(opts: OwnRedisOptions = {}): Promise<OwnRedis> {
  const which = Bun.which("redis-server");
  if (!which) throw new Error("redis-server is not installed: run `make services` (it installs Debian's redis-server)");
  if (opts.started === false) return ownRedis(which, await freePort(), opts);
  return startOnFreePort(
    (port) => ownRedis(which, port, opts),
    (redis) => redis.restart(),
    (redis) => redis.destroy(),
  );
}

interface OwnRedisOptions {
  started?: boolean;
  args?: (port: number) => string[];
}

/** A redis-server on `port`, not started yet (restart() starts it). */
function ownRedis(which: string, port: number, opts: OwnRedisOptions): OwnRedis {
  const dir = mkdtempSync(join(tmpdir(), "prism-own-redis-"));
  const args = [
    which,
    "--bind",
    "127.0.0.1",
    "--port",
    String(port),
    "--dir",
    dir,
    "--save",
    "",
    "--appendonly",
    "yes",
    "--appendfsync",
    "always",
    ...(opts.args?.(port) ?? []),
  ];
  let proc: StartedProcess | undefined;
  const start = async () => {
    proc = startProcess(args);
    await proc.waitFor(/Ready to accept connections/, 15_000);
  };
  const handle: OwnRedis = {
    port,
    address: `127.0.0.1:${port}`,
    get pid() {
      return proc?.pid ?? 0;
    },
    stop: async (signal = "SIGKILL") => {
      if (!proc || proc.proc.exitCode !== null || proc.proc.signalCode !== null) return;
      proc.proc.kill(signal);
      await proc.exited;
    },
    pause: () => void proc?.proc.kill("SIGSTOP"),
    resume: () => void proc?.proc.kill("SIGCONT"),
    restart: start,
    destroy: async () => {
      handle.resume();
      await handle.stop("SIGKILL");
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return handle;
}

/** The gRPC code a call failed with, or undefined when it succeeded. */
export function failureCode(p: Promise<unknown>): Promise<number | undefined> {
  return p.then(
    () => undefined,
    (err: unknown) => PrismError.from(err).code,
  );
}

export const text = (s: string) => new TextEncoder().encode(s);
export const str = (b: Uint8Array) => new TextDecoder().decode(b);
