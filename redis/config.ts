import { readFileSync } from "node:fs";
import { BREAKER_CONFIG, RETRY_CONFIG, validate, registerSecret, ConfigError, type Schema } from "@prism/sdk";
import type { ConnectionOptions as TlsOptions } from "node:tls";

/** Prefix used when the pattern runs without a namespace, the same name the proxy gives an unnamed one. */
export const DEFAULT_NAMESPACE = "default";

const DEFAULT_PORT = 6379;

/** A Redis node to dial. */
export interface NodeAddress {
  host: string;
  port: number;
}

/** The Redis pattern's configuration after validation, with every default filled in. */
export interface RedisConfig {
  mode: "standalone" | "cluster";
  /** One node in standalone mode; the seeds in cluster mode. */
  nodes: NodeAddress[];
  username?: string;
  password?: string;
  db: number;
  tls?: TlsOptions;
  /** Put before every key and channel; "" only when configured so. */
  keyPrefix: string;
  connectTimeoutMs: number;
  commandTimeoutMs: number;
  /** Ceiling of the reconnect backoff. */
  reconnectMaxDelayMs: number;
  retry: { maxAttempts: number; initialDelayMs: number; maxDelayMs: number };
  breaker: { failureThreshold: number; openDurationMs: number };
  /** COUNT hint of SCAN. */
  scanCount: number;
  /** Messages buffered per Subscribe stream before the oldest are dropped. */
  subscriberBuffer: number;
  /** Signs scan cursors; "" = a random secret per process. */
  cursorSecret: string;
  /** After each stored write: wait for `replicas` replicas (WAIT) and, with localAof, the local AOF fsync (WAITAOF). */
  wait: { replicas: number; localAof: boolean; timeoutMs: number };
}

/** Where the configuration came from, so errors can name the file and line. */
export interface ConfigOrigin {
  configFile: string;
  lineOf?: (path: readonly (string | number)[]) => number | undefined;
  /** The namespace the SDK passes to create(); "" when none. */
  namespace: string;
}

export const redisConfigSchema: Schema = {
  type: "object",
  fields: {
    address: { type: "string" },
    cluster: { type: "array", items: { type: "string" } },
    username: { type: "string" },
    password: { type: "string" },
    db: { type: "integer", min: 0 },
    tls: { type: "any" },
    key_prefix: { type: "string" },
    connect_timeout: { type: "duration", default: "2s" },
    command_timeout: { type: "duration", default: "1s" },
    reconnect_max_delay: { type: "duration", default: "2s" },
    retry: RETRY_CONFIG,
    breaker: BREAKER_CONFIG,
    scan_count: { type: "integer", min: 1, max: 100_000, default: 1000 },
    subscriber_buffer: { type: "integer", min: 1, default: 1024 },
    cursor_secret: { type: "string", default: "" },
    wait: {
      type: "object",
      fields: {
        replicas: { type: "integer", min: 0, default: 0 },
        local_aof: { type: "boolean", default: false },
        timeout: { type: "duration", default: "500ms" },
      },
    },
  },
};

interface RawConfig {
  address?: string;
  cluster?: string[];
  username?: string;
  password?: string;
  db?: number;
  tls?: unknown;
  key_prefix?: string;
  connect_timeout: number;
  command_timeout: number;
  reconnect_max_delay: number;
  retry: { max_attempts: number; initial_delay: number; max_delay: number };
  breaker: { failure_threshold: number; open_duration: number };
  scan_count: number;
  subscriber_buffer: number;
  cursor_secret: string;
  wait: { replicas: number; local_aof: boolean; timeout: number };
}

/**
 * Validates the pattern's config map (unknown keys and wrong types are ConfigErrors naming file, key and line)
 * and resolves address/URL, cluster seeds, TLS files and the key prefix.
 */
export function parseRedisConfig(config: Record<string, unknown>, origin: ConfigOrigin): RedisConfig {
  const raw = validate<RawConfig>(config, redisConfigSchema, { file: origin.configFile, lineOf: origin.lineOf });
  const fail = (path: Path, reason: string): never => {
    throw new ConfigError(origin.configFile, keyName(path), origin.lineOf?.(path), reason);
  };

  let url: UrlParts = {};
  let nodes: NodeAddress[];
  if (raw.cluster !== undefined) {
    if (raw.address !== undefined) fail(["address"], "set either address or cluster, not both");
    if (raw.cluster.length === 0) fail(["cluster"], "must list at least one host:port seed");
    nodes = raw.cluster.map((s, i) => parseHostPort(s) ?? fail(["cluster", i], `must be host:port, got "${s}"`));
  } else {
    const address = raw.address ?? `127.0.0.1:${DEFAULT_PORT}`;
    if (/^rediss?:\/\//i.test(address)) {
      url = parseRedisUrl(address) ?? fail(["address"], `must be host:port or redis://[user:password@]host:port[/db], got "${address}"`);
      nodes = [url.node!];
    } else {
      nodes = [parseHostPort(address) ?? fail(["address"], `must be host:port or a redis:// URL, got "${address}"`)];
    }
  }

  if (raw.cluster !== undefined && (raw.wait.replicas > 0 || raw.wait.local_aof)) fail(["wait"], "WAIT / WAITAOF are per node: not supported in cluster mode");
  if (raw.wait.timeout >= raw.command_timeout && (raw.wait.replicas > 0 || raw.wait.local_aof)) {
    fail(["wait", "timeout"], "must be shorter than command_timeout (the write and its wait share that bound)");
  }
  const db = raw.db ?? url.db ?? 0;
  if (raw.cluster !== undefined && db !== 0) fail(["db"], "Redis Cluster has only database 0");
  const tls = parseTls(raw.tls, url.tls ?? false, fail);

  return {
    mode: raw.cluster !== undefined ? "cluster" : "standalone",
    nodes,
    username: raw.username ?? url.username,
    password: raw.password ?? url.password,
    db,
    tls,
    keyPrefix: raw.key_prefix ?? `${origin.namespace || DEFAULT_NAMESPACE}:`,
    connectTimeoutMs: raw.connect_timeout,
    commandTimeoutMs: raw.command_timeout,
    reconnectMaxDelayMs: raw.reconnect_max_delay,
    retry: { maxAttempts: raw.retry.max_attempts, initialDelayMs: raw.retry.initial_delay, maxDelayMs: raw.retry.max_delay },
    breaker: { failureThreshold: raw.breaker.failure_threshold, openDurationMs: raw.breaker.open_duration },
    scanCount: raw.scan_count,
    subscriberBuffer: raw.subscriber_buffer,
    cursorSecret: raw.cursor_secret,
    wait: { replicas: raw.wait.replicas, localAof: raw.wait.local_aof, timeoutMs: raw.wait.timeout },
  };
}

/** "host:port", "[v6]:port" or a bare host (port 6379); undefined when malformed. */
export function parseHostPort(s: string): NodeAddress | undefined {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s/[\]]+))(?::(\d{1,5}))?$/.exec(s.trim());
  if (!m) return undefined;
  const port = m[3] === undefined ? DEFAULT_PORT : Number(m[3]);
  if (port < 1 || port > 65535) return undefined;
  return { host: m[1] ?? m[2]!, port };
}

interface UrlParts {
  node?: NodeAddress;
  username?: string;
  password?: string;
  db?: number;
  tls?: boolean;
}

/** A password read from a URL is hidden from logs and errors like one from {file} / {env}. */
function secret(v: string): string {
  registerSecret(v);
  return v;
}

/** redis://[user[:password]@]host[:port][/db], rediss:// for TLS; undefined when malformed. */
export function parseRedisUrl(s: string): UrlParts | undefined {
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    return undefined;
  }
  const host = u.hostname.replace(/^\[(.*)\]$/, "$1");
  if (!host || (u.search !== "" && u.search !== "?") || u.hash !== "") return undefined;
  const path = u.pathname.replace(/^\//, "");
  if (path !== "" && !/^\d+$/.test(path)) return undefined;
  return {
    node: { host, port: u.port ? Number(u.port) : DEFAULT_PORT },
    username: u.username ? decodeURIComponent(u.username) : undefined,
    password: u.password ? secret(decodeURIComponent(u.password)) : undefined,
    db: path === "" ? undefined : Number(path),
    tls: u.protocol.toLowerCase() === "rediss:",
  };
}

type Path = (string | number)[];

function keyName(path: Path): string {
  return path.map((seg, i) => (typeof seg === "number" ? `[${seg}]` : i === 0 ? seg : `.${seg}`)).join("");
}

const tlsKeys = ["ca", "cert", "key", "servername"] as const;

/** tls: true | false | {ca, cert, key, servername}; ca/cert/key are PEM file paths or inline PEM text. */
function parseTls(v: unknown, fromUrl: boolean, fail: (path: Path, reason: string) => never): TlsOptions | undefined {
  if (v === undefined || v === null) return fromUrl ? {} : undefined;
  if (typeof v === "boolean") return v ? {} : undefined;
  if (typeof v !== "object" || Array.isArray(v)) return fail(["tls"], "must be true, false or a map with ca, cert, key, servername");
  const out: TlsOptions = {};
  for (const [k, val] of Object.entries(v as Record<string, unknown>)) {
    if (!(tlsKeys as readonly string[]).includes(k)) fail(["tls", k], `unknown key (known: ${tlsKeys.join(", ")})`);
    if (typeof val !== "string" || val === "") fail(["tls", k], "must be a non-empty string");
    const s = val as string;
    if (k === "servername") out.servername = s;
    else out[k as "ca" | "cert" | "key"] = readPem(s, (reason) => fail(["tls", k], reason));
  }
  if ((out.cert === undefined) !== (out.key === undefined)) fail(["tls"], "cert and key must be given together");
  return out;
}

function readPem(s: string, fail: (reason: string) => never): string {
  if (s.includes("-----BEGIN")) return s;
  try {
    return readFileSync(s, "utf8");
  } catch (err) {
    return fail(`cannot read ${s}: ${(err as Error).message}`);
  }
}
