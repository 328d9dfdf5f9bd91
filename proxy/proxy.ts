import { chmodSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startHttpServer, Tracing, type Logger } from "@prism/sdk";
import { formatHostPort } from "./address";
import { CallTracer } from "./call_tracer";
import { H2Listener } from "./h2/listener";
import { Upstream } from "./h2/upstream";
import { ControlPlane } from "./lifecycle/control_plane";
import { LaunchedSupervisor, RemoteSupervisor, type Supervisor } from "./lifecycle/supervisor";
import { LocalServer } from "./local_server";
import { ProxyMetrics } from "./metrics";
import type { NamespaceConfig } from "./config";
import { PatternInstance, PatternRegistry, ReplicaSet } from "./pattern_registry";
import { Router } from "./router";
import { ProxySecurity } from "./security/setup";
import { msLeft, planShutdown, within } from "./shutdown_plan";
import type { ProxySettings } from "./settings";

export const PROXY_VERSION = "0.1.0";

/** Where a started proxy can be reached. */
export interface ProxyAddresses {
  /** host:port of the gRPC listener. */
  readonly listen: string;
  /** Base URL of the admin HTTP server. */
  readonly admin: string;
  /** host:port of the control plane patterns dial. */
  readonly controlPlane: string;
}

/**
 * The whole proxy: client listener → router → relay to patterns, the local server
 * (control plane, health, reflection), one supervisor per namespace, admin HTTP.
 */
export class Proxy {
  readonly registry = new PatternRegistry();
  readonly metrics = new ProxyMetrics(PROXY_VERSION);
  private readonly tracing: Tracing | undefined;
  private readonly controlPlane: ControlPlane;
  private readonly local: LocalServer;
  private readonly supervisors: Supervisor[] = [];
  private router: Router | undefined;
  private listener: H2Listener | undefined;
  private admin: ReturnType<typeof startHttpServer> | undefined;
  private localUpstream: Upstream | undefined;
  private socketDir: string | undefined;
  private security: ProxySecurity | undefined;

  constructor(
    private readonly settings: ProxySettings,
    private readonly logger: Logger,
  ) {
    const cfg = settings.config;
    this.tracing = settings.enableTracing
      ? new Tracing({ serviceName: "prism-proxy", serviceVersion: PROXY_VERSION, exporter: settings.traceExporter })
      : undefined;
    for (const ns of cfg.namespaces) this.registry.add(this.replicaSet(ns));
    this.controlPlane = new ControlPlane(logger.child({ component: "control-plane" }), (e) =>
      this.security?.audit.record({
        decision: "deny",
        principal: `pid:${e.pid}`,
        namespace: "",
        method: "/prism.interfaces.ProxyControlPlane/ManagePattern",
        peer: "control-plane socket",
        reason: `registration as ${e.pattern || "(no name)"} refused: ${e.reason}`,
      }),
    );
    this.local = new LocalServer(this.controlPlane, this.registry);
  }

  /** A namespace's instances: `replicas` launched ones, or one per remote address. */
  private replicaSet(ns: NamespaceConfig): ReplicaSet {
    const stats = this.metrics.namespace(ns.name, ns.pattern ?? ns.address!);
    const instances = Array.from({ length: ns.replicas }, (_, r) => {
      const pattern = ns.pattern ?? ns.addresses![r]!;
      return new PatternInstance(ns.name, pattern, ns.pattern ? "launched" : "remote", stats, r);
    });
    return new ReplicaSet(instances);
  }

  /** Binds everything, then brings every namespace up; rejects if one cannot start. */
  async start(): Promise<ProxyAddresses> {
    const cfg = this.settings.config;
    const security = (this.security = new ProxySecurity(cfg, this.metrics, this.logger));
    // With auth on, the loopback port of the proxy's own server answers only what came through the gate.
    if (security.gate) this.local.protect(security.gate.localSecret);
    // Launched patterns serve on Unix sockets in a directory only this user can open (mkdtemp: 0700), and dial
    // the control plane on a socket there too: no other local user can register as a pattern or call one.
    // Only when one is launched: a proxy of remote namespaces needs no writable directory (a FROM scratch image has no /tmp).
    let controlPlane = "";
    if (cfg.namespaces.some((ns) => ns.pattern !== undefined)) {
      this.socketDir = mkdtempSync(join(tmpdir(), "prism-proxy-"));
      chmodSync(this.socketDir, 0o700);
      controlPlane = await this.local.listenControlPlane(this.socketDir);
    }
    const local = await this.local.listen();
    this.localUpstream = new Upstream(local);
    this.router = new Router(this.registry, this.localUpstream, this.metrics, this.tracing && new CallTracer(this.tracing.tracer), security.gate);
    this.listener = new H2Listener(this.router.handle, security.listenerTls, cfg.limits, (reason) => this.metrics.reject(reason));
    const port = await this.listener.listen(cfg.listen);
    const listener = this.listener;
    security.started(cfg.listen, (m) => listener.setTls(m));
    const listen = formatHostPort({ host: cfg.listen.host, port });
    const router = this.router;
    this.admin = startHttpServer(
      cfg.adminPort,
      this.metrics.registry,
      {
        live: () => true,
        // "This proxy can route" (its listener is up, its configuration loaded, it is not shutting down): one
        // namespace's backend being down must not take the proxy, and every other namespace, out of service.
        // /ready?namespace=NAME is that namespace's pattern: serving, and its backend reachable.
        ready: (query) => {
          const ns = query.get("namespace");
          if (ns === null) return router.accepting;
          return this.registry.get(ns)?.ready;
        },
        routes: { "/patterns": () => this.registry.snapshot() },
      },
      cfg.security.admin.host,
      security.admin,
    );
    const admin = `${security.admin.tls ? "https" : "http"}://${formatHostPort({ host: cfg.security.admin.host, port: this.admin.port })}`;

    const launch = {
      socketDir: this.socketDir,
      patternsDir: cfg.patternsDir,
      controlPlane,
      logFormat: this.settings.logFormat,
      debug: this.settings.debug,
      tracing: this.settings.enableTracing ? this.settings.traceExporter : undefined,
    };
    for (const ns of cfg.namespaces) {
      for (const instance of this.registry.get(ns.name)!.instances) {
        const deps = { cfg, ns, metrics: this.metrics, logger: this.logger };
        this.supervisors.push(
          ns.pattern ? new LaunchedSupervisor(instance, { ...deps, controlPlane: this.controlPlane, launch }) : new RemoteSupervisor(instance, deps),
        );
      }
    }
    await Promise.all(this.supervisors.map((s) => s.start()));
    this.local.routing = true;
    this.local.refresh();
    return { listen, admin, controlPlane };
  }

  /**
   * Graceful shutdown: refuse new calls (GOAWAY), Drain the patterns (they finish
   * calls in flight and end open streams), let the relayed calls flush, Stop the
   * patterns, then close everything — each step bounded by its share of
   * shutdown_timeout (planShutdown), so the patterns are stopped before the bound.
   */
  async shutdown(): Promise<void> {
    const plan = planShutdown(this.settings.config.shutdownTimeoutMs);
    this.local.notServing();
    this.router?.stopAccepting();
    this.listener?.stopAccepting();
    await Promise.all(this.supervisors.map((s) => s.drain("proxy shutdown", plan.drainUntil)));
    if (this.router && !(await this.router.idle(Math.min(5_000, msLeft(plan.drainUntil))))) {
      this.logger.warn("calls still in flight after the drain bound; they end with their patterns", { calls: this.router.callsInFlight });
    }
    await Promise.all(this.supervisors.map((s) => s.stop("proxy shutdown", plan.stopUntil)));
    this.listener?.destroy();
    this.localUpstream?.close();
    this.admin?.stop();
    this.security?.close();
    await this.local.stop(Math.min(1_000, msLeft(plan.end) / 2));
    if (this.socketDir) rmSync(this.socketDir, { recursive: true, force: true });
    if (this.tracing && !(await within(this.tracing.shutdown(), Math.max(0, msLeft(plan.end) - 100)))) {
      this.logger.warn("traces not flushed within the shutdown bound");
    }
  }
}
