import * as grpc from "@grpc/grpc-js";
import { LifecycleInterface } from "../proto/gen/prism/interfaces/lifecycle_pb";
import { Health } from "../proto/gen/grpc/health/v1/health_pb";
import { loadSettings, USAGE, type ProcessSettings } from "./config/settings";
import { ConfigError } from "./config/yaml";
import type { Driver } from "./drivers/interfaces";
import { DriverMetrics } from "./drivers/instrument";
import { HealthService, Serving } from "./grpc/health";
import type { Interceptor } from "./grpc/interceptor";
import { addReflection } from "./grpc/reflection";
import { addService } from "./grpc/server";
import { bindServer, bindUnixServer, serverOptions, stopServer } from "./grpc/server_factory";
import { runControlPlane, takeLaunchToken } from "./lifecycle/control_plane_client";
import { guardLifecycle } from "./lifecycle/lifecycle_guard";
import { serverCredentials } from "./grpc/tls";
import { lifecycleService } from "./lifecycle/lifecycle_service";
import type { PatternDefinition } from "./lifecycle/pattern";
import { Readiness } from "./lifecycle/readiness";
import { PatternRuntime } from "./lifecycle/runtime";
import { shutdownController, EXIT_ERROR } from "./lifecycle/shutdown";
import { startHttpServer } from "./observability/http_server";
import { createLogger, type Logger } from "./observability/logger";
import { Metrics } from "./observability/metrics";
import { Tracing } from "./observability/tracing";

/**
 * Host the gRPC server binds: loopback unless PRISM_GRPC_HOST says otherwise (e.g. 0.0.0.0 in a container).
 * The advertised data endpoint is PRISM_ADVERTISE_HOST, else the bound host (loopback for a wildcard bind).
 */
const BIND_HOST = process.env.PRISM_GRPC_HOST || "127.0.0.1";
const WILDCARD = BIND_HOST === "0.0.0.0" || BIND_HOST === "::";
const ADVERTISE_HOST = process.env.PRISM_ADVERTISE_HOST || (WILDCARD ? "127.0.0.1" : BIND_HOST);
/** Host the /health, /ready, /metrics endpoints bind: loopback unless PRISM_METRICS_HOST says otherwise. */
const METRICS_HOST = process.env.PRISM_METRICS_HOST || "127.0.0.1";

/** host:port, with brackets for an IPv6 host. */
const hostPort = (host: string, port: number) => (host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`);

/** A pattern process that is up: what tests and embedders may want to reach. */
export interface RunningPattern<D extends Driver> {
  readonly runtime: PatternRuntime<D>;
  readonly grpcPort: number;
  readonly metricsPort: number;
  readonly settings: ProcessSettings;
  shutdown(reason: string): void;
}

/**
 * The one entry a pattern's main calls: reads flags/env/config, starts logging,
 * metrics, tracing, the gRPC server (data services, lifecycle, health,
 * reflection) and the HTTP endpoints, then either serves at once (run directly)
 * or registers with the proxy (--proxy-addr). Exits on SIGTERM/SIGINT.
 */
export async function serve<D extends Driver>(def: PatternDefinition<D>, argv = process.argv.slice(2)): Promise<RunningPattern<D>> {
  // First of all: the descriptor a launching proxy handed the secret over on is open (readable through /proc by
  // processes of this user) until it is read and closed.
  const launchToken = takeLaunchToken();
  let settings;
  try {
    settings = await loadSettings(argv);
  } catch (err) {
    process.stderr.write(`${def.name}: ${(err as Error).message}\n${USAGE}\n`);
    process.exit(EXIT_ERROR);
  }
  if (settings.help) {
    process.stdout.write(`${def.name} ${def.version}: a Prism pattern.\n${USAGE}\n`);
    process.exit(0);
  }
  const logger = createLogger({
    level: settings.debug ? "debug" : "info",
    format: settings.logFormat,
    fields: { component: def.name, pid: process.pid },
  });
  try {
    return await start(def, settings, logger, launchToken);
  } catch (err) {
    logger.error(err instanceof ConfigError ? "invalid configuration" : "failed to start", { err });
    process.exit(EXIT_ERROR);
  }
}

async function start<D extends Driver>(
  def: PatternDefinition<D>,
  settings: ProcessSettings,
  logger: Logger,
  launchToken: string | undefined,
): Promise<RunningPattern<D>> {
  const metrics = new Metrics({ name: def.name, version: def.version });
  const tracing = settings.enableTracing
    ? new Tracing({ serviceName: def.name, serviceVersion: def.version, exporter: settings.traceExporter, parentRequired: settings.traceParentRequired })
    : undefined;
  const runtime = new PatternRuntime<D>(def, {
    logger,
    driverMetrics: new DriverMetrics(metrics.registry),
    registry: metrics.registry,
    tracer: tracing?.tracer,
    configFile: settings.configFile ?? "config",
    lineOf: settings.source?.lineOf,
  });
  const health = new HealthService(Serving.NOT_SERVING);
  const server = new grpc.Server(serverOptions);
  const observe: Interceptor[] = [metrics.interceptor(), ...(tracing ? [tracing.interceptor()] : [])];
  const dataInterceptors = [...observe, runtime.gate()];
  for (const b of def.bindings) {
    addService(server, b.service, b.implement(runtime.slot, runtime.limits), dataInterceptors);
    health.set(b.service.typeName, Serving.NOT_SERVING);
  }

  let httpServer: ReturnType<typeof startHttpServer> | undefined;
  let readinessMonitor: Readiness | undefined;
  const shutdown = shutdownController(
    async () => {
      // Budget within the bound: most for calls in flight, some for the server, the rest to close and flush.
      const bound = settings.shutdownTimeoutMs;
      readinessMonitor?.stop();
      health.setAll(Serving.NOT_SERVING);
      health.close();
      const { unfinished } = await runtime.drain(bound * 0.6);
      const forcedServer = await stopServer(server, bound * 0.2);
      await runtime.stop();
      await tracing?.shutdown();
      httpServer?.stop();
      return unfinished > 0 || forcedServer;
    },
    settings.shutdownTimeoutMs,
    logger,
  );

  // The pattern's own port never lets a stranger drain or stop it (issue 11).
  addService(
    server,
    LifecycleInterface,
    guardLifecycle(lifecycleService(runtime, shutdown), { launched: settings.proxyAddr !== undefined, adminToken: settings.adminToken }),
    observe,
  );
  health.addTo(server);
  addReflection(server, [...def.bindings.map((b) => b.service), LifecycleInterface, Health]);

  // On a Unix socket (launched by a proxy) the pattern has no TCP port unless one is asked for explicitly.
  const grpcPort =
    settings.grpcSocket === undefined || settings.grpcPort > 0 ? await bindServer(server, BIND_HOST, settings.grpcPort, serverCredentials(settings.tls)) : 0;
  if (settings.grpcSocket !== undefined) await bindUnixServer(server, settings.grpcSocket);
  if (grpcPort > 0 && settings.tls === undefined && !/^(127\.|::1$|localhost$)/.test(BIND_HOST)) {
    logger.warn("gRPC is plaintext on a non-loopback address: configure security.tls, or bind loopback with PRISM_GRPC_HOST=127.0.0.1", {
      host: BIND_HOST,
      port: grpcPort,
    });
  }
  runtime.dataEndpoint = settings.grpcSocket !== undefined ? `unix:${settings.grpcSocket}` : hostPort(ADVERTISE_HOST, grpcPort);
  // Health (grpc.health.v1, pushed on Watch) and /ready follow the backend, not only the lifecycle.
  const readiness = new Readiness(runtime, (ready, reason) => {
    health.setAll(ready ? Serving.SERVING : Serving.NOT_SERVING);
    if (runtime.serving) logger[ready ? "info" : "warn"](ready ? "ready" : "not ready", { reason });
  });
  readinessMonitor = readiness;
  if (settings.metricsPort > 0) {
    httpServer = startHttpServer(
      settings.metricsPort,
      metrics.registry,
      {
        live: () => runtime.state !== "stopped",
        ready: () => readiness.current,
      },
      METRICS_HOST,
    );
  }
  runtime.onStateChange = () => void readiness.check();
  readiness.start();

  if (settings.proxyAddr) {
    void runControlPlane(settings.proxyAddr, runtime, logger, shutdown, launchToken);
  } else {
    await runtime.initialize(settings.patternConfig);
    runtime.start();
  }
  // What is bound, not what is advertised: an operator reading the banner learns who can reach it.
  process.stdout.write(`${def.name} grpc listening on ${grpcPort > 0 ? hostPort(BIND_HOST, grpcPort) : runtime.dataEndpoint}\n`);
  logger.info("serving", {
    version: def.version,
    grpc_host: BIND_HOST,
    grpc_port: grpcPort,
    metrics_host: METRICS_HOST,
    metrics_port: httpServer?.port ?? 0,
    proxy_addr: settings.proxyAddr ?? "",
    tracing: settings.enableTracing ? settings.traceExporter : "off",
  });
  return { runtime, grpcPort, metricsPort: httpServer?.port ?? 0, settings, shutdown };
}
