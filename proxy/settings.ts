import { basename, dirname, resolve } from "node:path";
import { flagBool, flagOneOf, flagPort, readFlags, ConfigError } from "@prism/sdk";
import { parseHostPort } from "./address";
import { defaultProxyConfig, loadProxyConfig, type ProxyConfig } from "./config";

/** How the proxy process runs: its config plus process-level switches. */
export interface ProxySettings {
  readonly config: ProxyConfig;
  readonly debug: boolean;
  readonly logFormat: "json" | "text";
  readonly enableTracing: boolean;
  readonly traceExporter: "stdout" | "otlp" | "none";
  readonly help: boolean;
}

const flagSpec = {
  config: { type: "string" },
  listen: { type: "string" },
  "admin-port": { type: "string" },
  "patterns-dir": { type: "string" },
  debug: { type: "boolean" },
  "enable-tracing": { type: "boolean" },
  "trace-exporter": { type: "string" },
  "log-format": { type: "string" },
  help: { type: "boolean", short: "h" },
} as const;

export const USAGE = `Usage: proxy [flags]   (each flag also settable as PRISM_<NAME>, e.g. PRISM_LISTEN)
  --config FILE           YAML: listen, admin.port, patterns_dir, namespaces   [namespace default -> memstore]
  --listen HOST:PORT      gRPC address for clients (port 0 = pick one)         [127.0.0.1:8980]
  --admin-port N          HTTP /health /ready /metrics /patterns (0 = pick one) [9090]
  --patterns-dir DIR      where pattern executables live                        [directory of this executable]
  --debug                 debug logging
  --enable-tracing        OpenTelemetry tracing (also passed to patterns)
  --trace-exporter KIND   stdout | otlp | none                                  [stdout]
  --log-format FORMAT     json | text                                           [json]`;

/** Where patterns live when nothing says: beside the compiled proxy, or ./dist when run from source. */
export function defaultPatternsDir(): string {
  const exe = process.execPath;
  return basename(exe).startsWith("bun") ? resolve("dist") : dirname(exe);
}

/** Flags first, then PRISM_* environment, then the config file, then defaults. */
export async function loadProxySettings(argv: string[], env: Record<string, string | undefined>): Promise<ProxySettings> {
  const get = readFlags(argv, flagSpec, env);
  const defaults = { patternsDir: defaultPatternsDir() };
  const file = get("config");
  let config = file ? await loadProxyConfig(file, defaults) : defaultProxyConfig(defaults);

  const listen = get("listen");
  if (listen !== undefined) {
    const hp = parseHostPort(listen);
    if (!hp) throw new ConfigError("flags", "--listen", undefined, `must be host:port, got "${listen}"`);
    config = { ...config, listen: hp };
  }
  const adminPort = get("admin-port");
  if (adminPort !== undefined) {
    config = { ...config, adminPort: flagPort("--admin-port", adminPort, config.adminPort) };
  }
  const patternsDir = get("patterns-dir");
  if (patternsDir !== undefined) config = { ...config, patternsDir };

  return {
    config: { ...config, patternsDir: resolve(config.patternsDir) },
    debug: flagBool(get("debug")),
    enableTracing: flagBool(get("enable-tracing")),
    traceExporter: flagOneOf("--trace-exporter", get("trace-exporter"), ["stdout", "otlp", "none"] as const, "stdout"),
    logFormat: flagOneOf("--log-format", get("log-format"), ["json", "text"] as const, "json"),
    help: argv.includes("--help") || argv.includes("-h"),
  };
}
