import { existsSync } from "node:fs";
import { relative } from "node:path";
import { ConfigError, EXIT_ERROR, shutdownController, createLogger } from "@prism/sdk";
import { FatalStartError } from "./lifecycle/bring_up";
import { installProcessGuard } from "./process_guard";
import { Proxy, type ProxyAddresses } from "./proxy";
import { loadProxySettings, USAGE, type ProxySettings } from "./settings";

let settings: ProxySettings;
try {
  settings = await loadProxySettings(process.argv.slice(2), process.env);
} catch (err) {
  process.stderr.write(`proxy: ${(err as Error).message}\n${USAGE}\n`);
  process.exit(EXIT_ERROR);
}
if (settings.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}

const logger = createLogger({ level: settings.debug ? "debug" : "info", format: settings.logFormat, fields: { component: "proxy", pid: process.pid } });
let proxy: Proxy;
try {
  const argv = process.argv.slice(2);
  const reread =
    argv.includes("--config") || argv.some((a) => a.startsWith("--config=")) || process.env.PRISM_CONFIG
      ? async () => (await loadProxySettings(argv, process.env)).config
      : undefined;
  proxy = new Proxy(settings, logger, reread);
} catch (err) {
  // e.g. an OTEL_* variable tracing cannot use.
  process.stderr.write(`proxy: ${(err as Error).message}\n`);
  process.exit(EXIT_ERROR);
}
installProcessGuard(logger, (kind) => proxy.metrics.uncaught(kind));
shutdownController(() => proxy.shutdown(), settings.config.shutdownTimeoutMs, logger);

try {
  printBanner(await proxy.start());
  // Namespaces change live: SIGHUP, or an edit of the file, re-reads it (a bad one is refused, the old one stays).
  process.on("SIGHUP", () => void proxy.reload("SIGHUP"));
  if (settings.config.file !== "(built-in default)") proxy.watchConfigFile(settings.config.file);
} catch (err) {
  logger.error("proxy failed to start", { err });
  // Also a plain line: a person running `make run` should not have to read JSON to see why.
  const clear = err instanceof ConfigError || err instanceof FatalStartError;
  process.stderr.write(`proxy: ${clear ? "" : "failed to start: "}${err instanceof Error ? err.message : String(err)}\n`);
  await Promise.race([proxy.shutdown(), Bun.sleep(10_000)]);
  process.exit(EXIT_ERROR);
}

/** Where the proxy listens and how to talk to it (stdout; logs go to stderr). */
function printBanner(a: ProxyAddresses): void {
  const cfg = settings.config;
  const lines = [`prism proxy listening on ${a.listen}`, `  admin: ${a.admin}  (/health /ready /metrics /patterns)`];
  for (const p of proxy.registry.snapshot()) {
    const where = p.mode === "launched" ? `pid ${p.pid}, ${p.endpoint}` : `remote ${p.endpoint ?? "(not reachable yet)"}`;
    lines.push(`  namespace ${p.namespace} -> ${p.pattern} (${where}) ${p.status}`);
  }
  const ctlPath = `${cfg.patternsDir}/prismctl`;
  const ctl = existsSync(ctlPath) ? (relative(process.cwd(), ctlPath).startsWith("..") ? ctlPath : `./${relative(process.cwd(), ctlPath)}`) : "prismctl";
  const flags = `${a.listen === "127.0.0.1:8980" ? "" : ` --addr ${a.listen}`}${a.admin === "http://127.0.0.1:9090" ? "" : ` --admin ${a.admin.replace("http://", "")}`}`;
  const first = cfg.namespaces[0]!.name;
  // With a TLS listener grpcurl needs the CA (and, for mTLS, a client certificate) instead of -plaintext.
  const grpcurl = cfg.security.tls ? "grpcurl -cacert <ca.crt>" : "grpcurl -plaintext";
  const ns = first === "default" ? "" : ` --namespace ${first}`;
  lines.push(
    "talk to it:",
    `  ${ctl}${flags}${ns} kv set hello world && ${ctl}${flags}${ns} kv get hello`,
    `  ${ctl}${flags} patterns`,
    `  ${grpcurl}${ns ? ` -H 'x-prism-namespace: ${first}'` : ""} -d '{"key":"hello"}' ${a.listen} prism.interfaces.keyvalue.KeyValueBasicInterface/Get`,
    `  ${grpcurl} ${a.listen} list`,
  );
  process.stdout.write(lines.join("\n") + "\n");
}
