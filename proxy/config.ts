import { validate, ConfigError, loadYamlFile, type Schema, type YamlSource } from "@prism/sdk";
import { type ConnectionLimits, DEFAULT_CONNECTION_LIMITS } from "./h2/connection_limits";
import { formatHostPort, parseHostPort, type HostPort } from "./address";
import {
  adminSecurityFields,
  namespaceSecurityFields,
  parseRemoteSecurity,
  parseSecurity,
  securityFields,
  type RemoteSecurity,
  type SecurityConfig,
} from "./security/config";

/** Per-namespace supervision settings (all durations in ms after validation). */
export interface NamespaceSettings {
  /** How often the proxy asks the pattern for HealthCheck. */
  healthIntervalMs: number;
  /** From launch (or first dial) to serving; over it, the attempt fails. */
  startTimeoutMs: number;
  /** Bound on one lifecycle command (Initialize, Start, HealthCheck, Drain, Stop). */
  commandTimeoutMs: number;
  /** Bound on Drain + Stop of the pattern at shutdown. */
  drainTimeoutMs: number;
  /** First and largest delay between restarts of a crashed pattern. */
  restartInitialDelayMs: number;
  restartMaxDelayMs: number;
  /** Streaming calls in flight to the pattern in all (unary calls have headroom above it); past it, RESOURCE_EXHAUSTED. */
  maxStreams: number;
  /** Calls on one proxy → pattern connection, when the pattern allows more (its SETTINGS_MAX_CONCURRENT_STREAMS). */
  streamsPerConnection: number;
}

/** One driver bound to one slot of a pattern (contract §4). */
export interface SlotConfig {
  readonly driver: string;
  readonly config: Record<string, unknown>;
}

/** A namespace: either a pattern the proxy launches, or one already running at `address`. */
export interface NamespaceConfig {
  readonly name: string;
  /** Executable name under patterns_dir (launched mode). */
  readonly pattern?: string;
  /** host:port of a pattern the proxy only connects to (remote mode): the first of `addresses`. */
  readonly address?: string;
  /** Every instance of a remote pattern (`address:` or `addresses:`), one host:port each. */
  readonly addresses?: readonly string[];
  /** Instances of a launched pattern the proxy runs and spreads calls over (remote: the number of addresses). */
  readonly replicas: number;
  /** Sent to the pattern in InitializeRequest.config (plus `namespace`). */
  readonly config: Record<string, unknown>;
  readonly slots?: Record<string, SlotConfig>;
  readonly settings: NamespaceSettings;
  /** TLS and admin credential for a remote pattern (address:). */
  readonly remote?: RemoteSecurity;
  /** Key path of this entry in the file, for error messages (e.g. ["namespaces", 0]). */
  readonly path: readonly (string | number)[];
}

/** The proxy's whole configuration after validation. */
export interface ProxyConfig {
  readonly file: string;
  readonly listen: HostPort;
  /** Admin HTTP port (/health /ready /metrics /patterns); 0 picks a free port. */
  readonly adminPort: number;
  readonly patternsDir: string;
  /** Bound on the whole graceful shutdown; over it the proxy exits 2. */
  readonly shutdownTimeoutMs: number;
  readonly namespaces: readonly NamespaceConfig[];
  /** The `namespaces:` list as written (before validation): the admin API edits one entry and validates the whole list again. */
  readonly rawNamespaces?: readonly unknown[];
  /** TLS, authentication, authorization, audit, admin port protection. */
  readonly security: SecurityConfig;
  /** Bounds on client connections and streams (`limits`). */
  readonly limits: ConnectionLimits;
  readonly lineOf: (path: readonly (string | number)[]) => number | undefined;
}

const settingsSchema: Schema = {
  type: "object",
  fields: {
    health_interval: { type: "duration", default: "5s" },
    start_timeout: { type: "duration", default: "15s" },
    command_timeout: { type: "duration", default: "5s" },
    drain_timeout: { type: "duration", default: "10s" },
    restart_initial_delay: { type: "duration", default: "200ms" },
    restart_max_delay: { type: "duration", default: "30s" },
    max_streams: { type: "integer", min: 1, default: 10_000 },
    streams_per_connection: { type: "integer", min: 1, default: 1_000 },
  },
};

const anyMap: Schema = { type: "map", values: { type: "any" } };

/** The file shape of issue 3 / contract §4; `slots` is the multi-backend form. */
export const proxyConfigSchema: Schema = {
  type: "object",
  fields: {
    listen: { type: "string", default: "127.0.0.1:8980" },
    admin: { type: "object", fields: { port: { type: "integer", min: 0, max: 65535, default: 9090 }, ...adminSecurityFields } },
    ...securityFields,
    patterns_dir: { type: "string" },
    shutdown_timeout: { type: "duration", default: "30s" },
    limits: {
      type: "object",
      fields: {
        max_connections: { type: "integer", min: 1, default: DEFAULT_CONNECTION_LIMITS.maxConnections },
        max_connections_per_client: { type: "integer", min: 1, default: DEFAULT_CONNECTION_LIMITS.maxConnectionsPerClient },
        // A bare number is read as seconds: the defaults, in ms, say so.
        idle_timeout: { type: "duration", default: `${DEFAULT_CONNECTION_LIMITS.idleTimeoutMs}ms` },
        request_body_timeout: { type: "duration", default: `${DEFAULT_CONNECTION_LIMITS.requestBodyTimeoutMs}ms` },
        max_streams_per_connection: { type: "integer", min: 1, default: DEFAULT_CONNECTION_LIMITS.maxStreamsPerConnection },
      },
    },
    namespaces: {
      type: "array",
      items: {
        type: "object",
        required: ["name"],
        fields: {
          name: { type: "string" },
          pattern: { type: "string" },
          address: { type: "string" },
          addresses: { type: "array", items: { type: "string" } },
          replicas: { type: "integer", min: 1, max: 64 },
          config: anyMap,
          slots: { type: "map", values: { type: "object", required: ["driver"], fields: { driver: { type: "string" }, config: anyMap } } },
          settings: settingsSchema,
          ...namespaceSecurityFields,
        },
      },
    },
  },
  required: ["namespaces"],
};

interface RawNamespace {
  name: string;
  pattern?: string;
  address?: string;
  addresses?: string[];
  replicas?: number;
  config?: Record<string, unknown>;
  slots?: Record<string, { driver: string; config?: Record<string, unknown> }>;
  settings: Record<string, number>;
  tls?: { ca_file?: string; cert_file?: string; key_file?: string; server_name?: string };
}

interface RawConfig {
  listen: string;
  admin: { port: number; host: string; token?: unknown; tls?: { cert_file: string; key_file: string; client_ca_file?: string } };
  tls?: { cert_file: string; key_file: string; client_ca_file?: string };
  auth?: { jwt?: Record<string, unknown>; api_keys_file?: string; api_keys_env?: string };
  authz: { principals: string[]; namespaces: string[]; allow: ("read" | "write" | "admin")[] }[];
  audit: { allowed_writes: boolean; file?: string };
  patterns_dir?: string;
  shutdown_timeout: number;
  limits: {
    max_connections: number;
    max_connections_per_client: number;
    idle_timeout: number;
    request_body_timeout: number;
    max_streams_per_connection: number;
  };
  namespaces: RawNamespace[];
}

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;

/** Validates a parsed config document; errors name file, key and line. */
export function parseProxyConfig(source: YamlSource, defaults: { patternsDir: string }): ProxyConfig {
  const { file, lineOf } = source;
  const raw = validate<RawConfig>(source.value, proxyConfigSchema, { file, lineOf });
  const fail = (path: (string | number)[], key: string, reason: string): never => {
    throw new ConfigError(file, key, lineOf(path), reason);
  };
  const listen = parseHostPort(raw.listen) ?? fail(["listen"], "listen", `must be host:port, got "${raw.listen}"`);
  if (raw.namespaces.length === 0) fail(["namespaces"], "namespaces", "must list at least one namespace");
  const seen = new Set<string>();
  /** Remote addresses in use, by canonical host:port: one pattern holds one namespace's data (contract §2). */
  const addresses = new Map<string, { name: string; index: number; keyPath: (string | number)[] }>();
  const namespaces = raw.namespaces.map((ns, i): NamespaceConfig => {
    const at = (k?: string) => (k ? `namespaces[${i}].${k}` : `namespaces[${i}]`);
    const path = ["namespaces", i];
    if (!NAME_RE.test(ns.name)) fail([...path, "name"], at("name"), `must be letters, digits, '_', '.', '-' (at most 63), got "${ns.name}"`);
    if (seen.has(ns.name)) fail([...path, "name"], at("name"), `namespace "${ns.name}" is configured twice`);
    seen.add(ns.name);
    const remoteKeys = (ns.address === undefined ? 0 : 1) + (ns.addresses === undefined ? 0 : 1);
    if ((ns.pattern === undefined ? 0 : 1) + remoteKeys !== 1) {
      fail(path, at(), "needs exactly one of `pattern` (launch it), `address` or `addresses` (connect to running instances of a pattern)");
    }
    if (ns.pattern !== undefined && !NAME_RE.test(ns.pattern)) {
      fail([...path, "pattern"], at("pattern"), `must be an executable name in patterns_dir, got "${ns.pattern}"`);
    }
    if (ns.replicas !== undefined && ns.pattern === undefined) {
      fail([...path, "replicas"], at("replicas"), "applies to a launched pattern (pattern:); list the instances of a remote one under addresses:");
    }
    if (ns.addresses !== undefined && ns.addresses.length === 0) fail([...path, "addresses"], at("addresses"), "must list at least one host:port");
    const listed = ns.addresses !== undefined ? ns.addresses.map((a, j) => ({ a, keyPath: [...path, "addresses", j], key: at(`addresses[${j}]`) })) : [];
    if (ns.address !== undefined) listed.push({ a: ns.address, keyPath: [...path, "address"], key: at("address") });
    for (const { a, keyPath, key: where } of listed) {
      const addr = parseHostPort(a) ?? fail(keyPath, where, `must be host:port, got "${a}"`);
      const key = addressKey(addr);
      const other = addresses.get(key);
      if (other !== undefined) {
        const line = lineOf(other.keyPath);
        const whom =
          other.name === ns.name
            ? `namespace "${ns.name}" lists address ${key} twice`
            : `namespace "${ns.name}" and namespace "${other.name}" (namespaces[${other.index}]${line === undefined ? "" : `, line ${line}`}) both use address ${key}`;
        fail(keyPath, where, `${whom}: one pattern initialized for two namespaces would share one key space; give each namespace its own pattern`);
      }
      addresses.set(key, { name: ns.name, index: i, keyPath });
    }
    const remoteAddresses = listed.length > 0 ? listed.map((l) => l.a) : undefined;
    if (remoteAddresses !== undefined && ns.slots !== undefined) {
      // Slots are checked against the pattern's declarations before Initialize hands them to its drivers; a remote
      // pattern declares them only in its Initialize answer, too late for that check.
      fail(
        [...path, "slots"],
        at("slots"),
        "cannot be checked for a remote pattern (address:) before Initialize hands them to its drivers; configure its backends in the pattern's own config, or let the proxy launch it (pattern:)",
      );
    }
    if (ns.config && "namespace" in ns.config) {
      fail([...path, "config", "namespace"], at("config.namespace"), "is reserved: the proxy sets it to the namespace name");
    }
    const s = ns.settings;
    const settings: NamespaceSettings = {
      healthIntervalMs: Math.max(50, s.health_interval!),
      startTimeoutMs: s.start_timeout!,
      commandTimeoutMs: s.command_timeout!,
      drainTimeoutMs: s.drain_timeout!,
      restartInitialDelayMs: s.restart_initial_delay!,
      restartMaxDelayMs: Math.max(s.restart_initial_delay!, s.restart_max_delay!),
      maxStreams: s.max_streams!,
      streamsPerConnection: s.streams_per_connection!,
    };
    const slots = ns.slots ? Object.fromEntries(Object.entries(ns.slots).map(([slot, v]) => [slot, { driver: v.driver, config: v.config ?? {} }])) : undefined;
    const remote = parseRemoteSecurity({ ...ns, address: remoteAddresses?.[0] }, { file, lineOf }, path);
    return {
      name: ns.name,
      pattern: ns.pattern,
      address: remoteAddresses?.[0],
      addresses: remoteAddresses,
      replicas: remoteAddresses?.length ?? ns.replicas ?? 1,
      config: ns.config ?? {},
      slots,
      settings,
      remote,
      path,
    };
  });
  return {
    file,
    listen,
    adminPort: raw.admin.port,
    patternsDir: raw.patterns_dir ?? defaults.patternsDir,
    shutdownTimeoutMs: raw.shutdown_timeout,
    namespaces,
    rawNamespaces: structuredClone((source.value as { namespaces: unknown[] }).namespaces),
    security: parseSecurity(raw, { file, lineOf }),
    limits: {
      maxConnections: raw.limits.max_connections,
      maxConnectionsPerClient: Math.min(raw.limits.max_connections_per_client, raw.limits.max_connections),
      idleTimeoutMs: raw.limits.idle_timeout,
      requestBodyTimeoutMs: raw.limits.request_body_timeout,
      maxStreamsPerConnection: raw.limits.max_streams_per_connection,
    },
    lineOf,
  };
}

/** host:port with the host in one spelling, so `localhost:7000` and `127.0.0.1:7000` compare equal. */
function addressKey(a: HostPort): string {
  const host = a.host.toLowerCase();
  return formatHostPort({ host: host === "localhost" ? "127.0.0.1" : host, port: a.port });
}

/** Reads and validates a proxy config file. */
export async function loadProxyConfig(file: string, defaults: { patternsDir: string }): Promise<ProxyConfig> {
  return parseProxyConfig(await loadYamlFile(file), defaults);
}

/** The configuration used without --config: namespace `default` served by the in-memory pattern. */
export function defaultProxyConfig(defaults: { patternsDir: string }): ProxyConfig {
  return parseProxyConfig({ file: "(built-in default)", value: { namespaces: [{ name: "default", pattern: "memstore" }] }, lineOf: () => undefined }, defaults);
}
