import { flagBool, flagOneOf, flagPort, readFlags } from "./flags";
import { ConfigError, loadYamlFile, type YamlSource } from "./yaml";
import { parseDuration, validate, type Schema } from "./schema";
import { isSecretRef, readSecret, registerSecret } from "./secrets";

/** How a pattern process runs: contract §3 flags, PRISM_* environment, config file. */
export interface ProcessSettings {
  configFile?: string;
  grpcPort: number;
  /** Unix domain socket to serve gRPC on (set by the proxy for the patterns it launches). */
  grpcSocket?: string;
  metricsPort: number;
  proxyAddr?: string;
  debug: boolean;
  enableTracing: boolean;
  traceExporter: "stdout" | "otlp" | "none";
  /**
   * Trace only calls whose traceparent says "sampled": a call with none is left out, not a new trace (set by the
   * proxy on the patterns it launches, as PRISM_TRACE_PARENT_REQUIRED: it decides every new trace itself).
   */
  traceParentRequired: boolean;
  logFormat: "json" | "text";
  /** Bound on graceful shutdown (config lifecycle.shutdown_timeout). */
  shutdownTimeoutMs: number;
  /** The pattern's own configuration: the config file minus the reserved `lifecycle` key. */
  patternConfig: Record<string, unknown>;
  /** Credential required on Drain / Stop over the pattern's own port when run on its own (config security.admin_token or PRISM_ADMIN_TOKEN). */
  adminToken?: string;
  /** TLS on the pattern's own gRPC port (config security.tls; client_ca_file = client certificates required). */
  tls?: { certFile: string; keyFile: string; clientCaFile?: string };
  /** The parsed config file, for line numbers in errors. */
  source?: YamlSource;
}

/** The reserved `security` section of a pattern's config file (the pattern's own port; issue 11). */
export const securitySchema: Schema = {
  type: "object",
  fields: {
    admin_token: { type: "any" },
    tls: {
      type: "object",
      optional: true,
      required: ["cert_file", "key_file"],
      fields: { cert_file: { type: "string" }, key_file: { type: "string" }, client_ca_file: { type: "string" } },
    },
  },
};

/** The reserved `lifecycle` section of a pattern's config file. */
export const lifecycleSchema: Schema = { type: "object", fields: { shutdown_timeout: { type: "duration" } } };

const flagSpec = {
  config: { type: "string" },
  "grpc-port": { type: "string" },
  "grpc-socket": { type: "string" },
  "metrics-port": { type: "string" },
  "proxy-addr": { type: "string" },
  debug: { type: "boolean" },
  "enable-tracing": { type: "boolean" },
  "trace-exporter": { type: "string" },
  "trace-parent-required": { type: "boolean" },
  "log-format": { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

export const USAGE = `Flags (each also settable as PRISM_<NAME>, e.g. PRISM_GRPC_PORT):
  --config FILE              YAML configuration of the pattern
  --grpc-port N              gRPC port (0 = pick a free port and print it)        [0]
  --grpc-socket PATH         serve gRPC on this Unix socket instead of a TCP port (set by the proxy;
                             with --grpc-port N > 0, on both)
  --metrics-port N           HTTP /health /ready /metrics port (0 = disabled)     [0]
  --proxy-addr HOST:PORT     proxy control plane to register with (set by the proxy)
  --debug                    debug logging
  --enable-tracing           OpenTelemetry tracing
  --trace-exporter KIND      stdout | otlp | none                                 [stdout]
  --trace-parent-required    trace only calls whose traceparent says sampled, start no trace (set by the
                             proxy on the patterns it launches: it decides new traces itself)
  --log-format FORMAT        json | text                                          [json]
Environment only:
  PRISM_GRPC_HOST            address gRPC binds (0.0.0.0 in the container images) [127.0.0.1]
  PRISM_METRICS_HOST         address /health /ready /metrics bind                 [127.0.0.1]
  PRISM_ADVERTISE_HOST       host of the data endpoint reported in StartResponse  [bound host]`;

/** Reads flags, then PRISM_* environment for whatever a flag did not set, then the config file. */
export async function loadSettings(
  argv: string[] = process.argv.slice(2),
  env: Record<string, string | undefined> = process.env,
): Promise<ProcessSettings & { help: boolean }> {
  const get = readFlags(argv, flagSpec, env);
  const configFile = get("config");
  let patternConfig: Record<string, unknown> = {};
  let shutdownTimeoutMs = 30_000;
  let source: YamlSource | undefined;
  let adminToken: string | undefined;
  let tls: ProcessSettings["tls"];
  if (configFile) {
    source = await loadYamlFile(configFile);
    if (typeof source.value !== "object" || Array.isArray(source.value)) throw new ConfigError(configFile, "", 1, "must be a map of settings");
    const { lifecycle, security: securityRaw, ...rest } = source.value as Record<string, unknown>;
    patternConfig = rest;
    const sec = validate<{ admin_token?: unknown; tls?: { cert_file: string; key_file: string; client_ca_file?: string } }>(securityRaw, securitySchema, {
      file: configFile,
      lineOf: source.lineOf,
      base: ["security"],
    });
    if (sec.admin_token !== undefined) {
      const t = sec.admin_token;
      adminToken = isSecretRef(t) ? readSecret(t, { file: configFile, lineOf: source.lineOf, env }, ["security", "admin_token"]) : String(t);
      registerSecret(adminToken);
    }
    if (sec.tls) tls = { certFile: sec.tls.cert_file, keyFile: sec.tls.key_file, clientCaFile: sec.tls.client_ca_file };
    const life = validate<{ shutdown_timeout?: number }>(lifecycle, lifecycleSchema, { file: configFile, lineOf: source.lineOf, base: ["lifecycle"] });
    if (life.shutdown_timeout !== undefined) shutdownTimeoutMs = life.shutdown_timeout;
  }
  if (env.PRISM_ADMIN_TOKEN) {
    adminToken = env.PRISM_ADMIN_TOKEN;
    registerSecret(adminToken);
  }
  const envTimeout = env.PRISM_SHUTDOWN_TIMEOUT;
  if (envTimeout) {
    const ms = parseDuration(envTimeout);
    if (ms === undefined) throw new ConfigError("env", "PRISM_SHUTDOWN_TIMEOUT", undefined, `must be a duration, got "${envTimeout}"`);
    shutdownTimeoutMs = ms;
  }
  return {
    help: argv.includes("--help") || argv.includes("-h"),
    configFile,
    grpcPort: flagPort("--grpc-port", get("grpc-port"), 0),
    grpcSocket: get("grpc-socket") || undefined,
    metricsPort: flagPort("--metrics-port", get("metrics-port"), 0),
    proxyAddr: get("proxy-addr") || undefined,
    debug: flagBool(get("debug")),
    enableTracing: flagBool(get("enable-tracing")),
    traceExporter: flagOneOf("--trace-exporter", get("trace-exporter"), ["stdout", "otlp", "none"] as const, "stdout"),
    traceParentRequired: flagBool(get("trace-parent-required")),
    logFormat: flagOneOf("--log-format", get("log-format"), ["json", "text"] as const, "json"),
    shutdownTimeoutMs,
    patternConfig,
    adminToken,
    tls,
    source,
  };
}
