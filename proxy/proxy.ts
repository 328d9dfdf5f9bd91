import { chmodSync, type FSWatcher, mkdtempSync, readFileSync, rmSync, watch } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { startHttpServer, Tracing, type Logger } from "@prism/sdk";
import { formatHostPort } from "./address";
import { CallTracer } from "./call_tracer";
import { CLIENT_SERVICES } from "./client_services";
import { DeprecatedCalls } from "./deprecation";
import { H2Listener } from "./h2/listener";
import { Upstream } from "./h2/upstream";
import { ControlPlane } from "./lifecycle/control_plane";
import { patternExecutable, type LaunchOptions } from "./lifecycle/launcher";
import { LaunchedSupervisor, RemoteSupervisor, type Supervisor } from "./lifecycle/supervisor";
import { diffNamespaces, restartOnlyChanges } from "./config_diff";
import { LocalServer } from "./local_server";
import { ProxyMetrics } from "./metrics";
import type { NamespaceConfig, ProxyConfig } from "./config";
import { PatternInstance, PatternRegistry, ReplicaSet } from "./pattern_registry";
import { namespaceAdminService } from "./namespace_admin";
import { Router } from "./router";
import { ProxySecurity } from "./security/setup";
import { msLeft, planShutdown, within } from "./shutdown_plan";
import type { ProxySettings } from "./settings";

export const PROXY_VERSION = "0.1.0";

/** The outcome of one configuration change (SIGHUP, file change, admin API), as /config shows the last one. */
export interface ConfigChange {
  readonly origin: string;
  readonly at: string;
  readonly applied: boolean;
  /** Why it was refused (the old configuration stays). */
  readonly error?: string;
  readonly added: string[];
  readonly changed: string[];
  readonly removed: string[];
  readonly unchanged: string[];
}

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
  /** Each namespace's supervisors, one per instance. */
  private readonly supervisors = new Map<string, Supervisor[]>();
  /** Instances of a change not (or no longer) routed to: being started, or retired; stopped at shutdown too. */
  private readonly retiring = new Set<Supervisor>();
  /** The configuration serving now (namespaces change live). */
  private current: ProxyConfig;
  private launchOptions: LaunchOptions | undefined;
  /** One configuration change at a time. */
  private changeQueue: Promise<unknown> = Promise.resolve();
  private shuttingDown = false;
  /** The last configuration changes, applied or refused, oldest first (at most 20). */
  readonly changes: ConfigChange[] = [];
  private router: Router | undefined;
  private listener: H2Listener | undefined;
  private admin: ReturnType<typeof startHttpServer> | undefined;
  private localUpstream: Upstream | undefined;
  private socketDir: string | undefined;
  private security: ProxySecurity | undefined;

  constructor(
    private readonly settings: ProxySettings,
    private readonly logger: Logger,
    /** Reads the configuration again as at start-up (file, then flags and environment over it): SIGHUP, file change. */
    private readonly reread?: () => Promise<ProxyConfig>,
  ) {
    const cfg = settings.config;
    this.current = cfg;
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
  private replicaSet(ns: NamespaceConfig, reuse?: ReplicaSet): ReplicaSet {
    // A changed namespace keeps its metric series when its pattern keeps its name.
    const stats =
      reuse !== undefined && reuse.stats.pattern === (ns.pattern ?? ns.address!) ? reuse.stats : this.metrics.namespace(ns.name, ns.pattern ?? ns.address!);
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
    if (security.gate) {
      this.local.protect(security.gate.localSecret);
      const proxy = this;
      this.local.serveNamespaceAdmin(
        namespaceAdminService({
          get config() {
            return proxy.current;
          },
          apply: (next, origin) => this.apply(next, origin),
          status: (ns) => this.registry.get(ns)?.snapshot(),
        }),
      );
    }
    // Launched patterns serve on Unix sockets in a directory only this user can open (mkdtemp: 0700), and dial
    // the control plane on a socket there too: no other local user can register as a pattern or call one.
    // Only when one is launched: a proxy of remote namespaces needs no writable directory (a FROM scratch image has no /tmp).
    if (cfg.namespaces.some((ns) => ns.pattern !== undefined)) await this.launching();
    const controlPlane = this.launchOptions?.controlPlane ?? "";
    const local = await this.local.listen();
    this.localUpstream = new Upstream(local);
    const deprecated = new DeprecatedCalls(CLIENT_SERVICES, this.metrics.registry, this.logger.child({ component: "deprecation" }));
    this.router = new Router(
      this.registry,
      this.localUpstream,
      this.metrics,
      this.tracing && new CallTracer(this.tracing.tracer, this.tracing.followsUnsampledParent, this.tracing.rootSampling),
      security.gate,
      deprecated,
    );
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
        routes: {
          "/patterns": () => this.registry.snapshot(),
          "/config": () => ({ file: this.current.file, namespaces: this.current.namespaces.map((ns) => ns.name), changes: this.changes }),
        },
      },
      cfg.security.admin.host,
      security.admin,
    );
    const admin = `${security.admin.tls ? "https" : "http"}://${formatHostPort({ host: cfg.security.admin.host, port: this.admin.port })}`;

    for (const ns of cfg.namespaces) this.supervisors.set(ns.name, this.supervise(cfg, ns, this.registry.get(ns.name)!));
    await Promise.all(this.allSupervisors().map((s) => s.start()));
    this.local.routing = true;
    this.local.refresh();
    return { listen, admin, controlPlane };
  }

  private allSupervisors(): Supervisor[] {
    return [...[...this.supervisors.values()].flat(), ...this.retiring];
  }

  /** The private socket directory and control plane launched patterns need, made on first use. */
  private async launching(): Promise<LaunchOptions> {
    if (this.launchOptions) return this.launchOptions;
    // Launched patterns serve on Unix sockets in a directory only this user can open (mkdtemp: 0700), and dial
    // the control plane on a socket there too: no other local user can register as a pattern or call one.
    // Only when one is launched: a proxy of remote namespaces needs no writable directory (a FROM scratch image has no /tmp).
    this.socketDir = mkdtempSync(join(tmpdir(), "prism-proxy-"));
    chmodSync(this.socketDir, 0o700);
    const controlPlane = await this.local.listenControlPlane(this.socketDir);
    this.launchOptions = {
      socketDir: this.socketDir,
      patternsDir: this.current.patternsDir,
      controlPlane,
      logFormat: this.settings.logFormat,
      debug: this.settings.debug,
      tracing: this.settings.enableTracing ? this.settings.traceExporter : undefined,
    };
    return this.launchOptions;
  }

  /** One supervisor per instance of the namespace (not started). */
  private supervise(cfg: ProxyConfig, ns: NamespaceConfig, set: ReplicaSet): Supervisor[] {
    const deps = { cfg, ns, metrics: this.metrics, logger: this.logger };
    return set.instances.map((instance) =>
      ns.pattern
        ? new LaunchedSupervisor(instance, { ...deps, controlPlane: this.controlPlane, launch: this.launchOptions! })
        : new RemoteSupervisor(instance, deps),
    );
  }

  private watcher: FSWatcher | undefined;

  /** Re-reads the configuration (as at start-up) and applies it; a refusal is logged and kept in lastChange. */
  async reload(origin: string): Promise<ConfigChange> {
    if (this.reread === undefined) return this.refused(origin, "the proxy runs without --config: there is no file to read again");
    let next: ProxyConfig;
    try {
      next = await this.reread();
    } catch (err) {
      return this.refused(origin, err instanceof Error ? err.message : String(err));
    }
    return this.apply(next, origin);
  }

  /**
   * Re-reads the file when its content changes, debounced. The directory is watched and any change in it makes the
   * file be read again: an editor replaces the file, and a Kubernetes ConfigMap mount swaps a `..data` symlink.
   */
  watchConfigFile(file: string): void {
    let timer: ReturnType<typeof setTimeout> | undefined;
    let last = safeRead(file);
    this.watcher = watch(dirname(file), () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        const now = safeRead(file);
        if (now === undefined || now === last) return;
        last = now;
        void this.reload("file change");
      }, 200);
    });
  }

  /**
   * Applies a new configuration: validated whole first (keys only a restart applies must be unchanged, launched
   * patterns must exist), then every added or changed namespace gets its new instances started and ready, and
   * only then are calls routed to them; the old instances of a changed or removed namespace finish their unary
   * calls in flight (bounded by drain_timeout), then drain (ending open streams) and stop. Unchanged namespaces
   * are not touched. Any failure before the switch refuses the whole change and leaves the old one serving.
   */
  apply(next: ProxyConfig, origin: string): Promise<ConfigChange> {
    const run = this.changeQueue.then(() => this.applyNow(next, origin));
    this.changeQueue = run.catch(() => undefined);
    return run;
  }

  private async applyNow(next: ProxyConfig, origin: string): Promise<ConfigChange> {
    if (this.shuttingDown) return this.refused(origin, "the proxy is shutting down");
    const before = this.current;
    const restartOnly = restartOnlyChanges(before, next);
    if (restartOnly.length > 0) {
      return this.refused(origin, `${next.file}: ${restartOnly.join(", ")} changed; only namespaces change without a restart (restart the proxy for the rest)`);
    }
    const diff = diffNamespaces(before.namespaces, next.namespaces);
    const starting = [...diff.added, ...diff.changed];
    try {
      for (const ns of starting) {
        if (ns.pattern === undefined) continue;
        patternExecutable(next.patternsDir, ns.pattern, {
          file: next.file,
          key: `namespaces[${ns.path[1]}].pattern`,
          line: next.lineOf([...ns.path, "pattern"]),
        });
      }
      if (starting.some((ns) => ns.pattern !== undefined)) await this.launching();
    } catch (err) {
      return this.refused(origin, (err as Error).message);
    }
    // Start every new namespace and new version side by side, off the routing table.
    const fresh = starting.map((ns) => {
      const set = this.replicaSet(ns, this.registry.get(ns.name));
      return { ns, set, supervisors: this.supervise(next, ns, set) };
    });
    // Stopped by a shutdown that comes meanwhile, like the rest.
    for (const f of fresh) for (const s of f.supervisors) this.retiring.add(s);
    const results = await Promise.allSettled(fresh.map((f) => this.startReady(f.ns, f.set, f.supervisors)));
    for (const f of fresh) for (const s of f.supervisors) this.retiring.delete(s);
    const failures = results.flatMap((r, i) =>
      r.status === "rejected" ? [`namespace "${fresh[i]!.ns.name}": ${(r.reason as Error)?.message ?? r.reason}`] : [],
    );
    if (failures.length > 0 || this.shuttingDown) {
      if (failures.length === 0) failures.push("the proxy is shutting down");
      await Promise.all(fresh.flatMap((f) => f.supervisors.map((s) => s.stop("configuration refused", Date.now() + f.ns.settings.drainTimeoutMs))));
      return this.refused(origin, failures.join("; "));
    }
    // The switch: calls from here on go to the new instances.
    const old: { set: ReplicaSet; supervisors: Supervisor[]; ns: NamespaceConfig }[] = [];
    const oldConfig = new Map(before.namespaces.map((ns) => [ns.name, ns]));
    for (const f of fresh) {
      const was = this.registry.get(f.ns.name);
      if (was) old.push({ set: was, supervisors: this.supervisors.get(f.ns.name) ?? [], ns: oldConfig.get(f.ns.name)! });
      this.registry.add(f.set);
      this.supervisors.set(f.ns.name, f.supervisors);
    }
    for (const name of diff.removed) {
      const was = this.registry.get(name);
      if (was) old.push({ set: was, supervisors: this.supervisors.get(name) ?? [], ns: oldConfig.get(name)! });
      this.registry.remove(name);
      this.supervisors.delete(name);
      this.local.forget(name);
    }
    this.current = next;
    this.security?.gate?.setNamespaces(next.namespaces.map((ns) => ns.name));
    this.local.refresh();
    const change: ConfigChange = {
      origin,
      at: new Date().toISOString(),
      applied: true,
      added: diff.added.map((ns) => ns.name),
      changed: diff.changed.map((ns) => ns.name),
      removed: diff.removed,
      unchanged: diff.unchanged,
    };
    this.record(change);
    this.logger.info("configuration applied", { origin, added: change.added, changed: change.changed, removed: change.removed });
    await Promise.all(old.map((o) => this.retire(o.set, o.supervisors, o.ns)));
    // A removed namespace's series say it is down (a changed one's are its new instances').
    for (const o of old) if (diff.removed.includes(o.ns.name)) o.set.stats.setUp(false);
    return change;
  }

  /** Starts a namespace's supervisors and waits until it is ready (bounded by start_timeout); rejects otherwise. */
  private async startReady(ns: NamespaceConfig, set: ReplicaSet, supervisors: Supervisor[]): Promise<void> {
    await Promise.all(supervisors.map((s) => s.start()));
    const until = Date.now() + ns.settings.startTimeoutMs;
    while (!set.instances.every((i) => i.ready)) {
      if (Date.now() > until) {
        const why = set.instances.map((i) => i.lastError).find((e) => e !== undefined);
        throw new Error(`not ready within start_timeout ${ns.settings.startTimeoutMs} ms${why ? `: ${why}` : ""}`);
      }
      await Bun.sleep(20);
    }
  }

  /** Lets the old instances finish their unary calls (bounded by drain_timeout), then drains and stops them. */
  private async retire(set: ReplicaSet, supervisors: Supervisor[], ns: NamespaceConfig): Promise<void> {
    set.detach();
    for (const s of supervisors) this.retiring.add(s);
    const until = Date.now() + ns.settings.drainTimeoutMs;
    while (set.unaryInFlight > 0 && Date.now() < until) await Bun.sleep(20);
    await Promise.all(
      supervisors.map((s) => s.stop("namespace changed or removed", Date.now() + ns.settings.drainTimeoutMs + 2 * ns.settings.commandTimeoutMs)),
    );
    for (const s of supervisors) this.retiring.delete(s);
  }

  private record(change: ConfigChange): void {
    this.changes.push(change);
    if (this.changes.length > 20) this.changes.shift();
  }

  private refused(origin: string, error: string): ConfigChange {
    const change: ConfigChange = { origin, at: new Date().toISOString(), applied: false, error, added: [], changed: [], removed: [], unchanged: [] };
    this.record(change);
    this.logger.error("configuration refused; the running one stays", { origin, reason: error });
    return change;
  }

  /** The configuration serving now. */
  get config(): ProxyConfig {
    return this.current;
  }

  /**
   * Graceful shutdown: refuse new calls (GOAWAY), Drain the patterns (they finish
   * calls in flight and end open streams), let the relayed calls flush, Stop the
   * patterns, then close everything — each step bounded by its share of
   * shutdown_timeout (planShutdown), so the patterns are stopped before the bound.
   */
  async shutdown(): Promise<void> {
    const plan = planShutdown(this.settings.config.shutdownTimeoutMs);
    this.shuttingDown = true;
    this.watcher?.close();
    this.local.notServing();
    this.router?.stopAccepting();
    this.listener?.stopAccepting();
    await Promise.all(this.allSupervisors().map((s) => s.drain("proxy shutdown", plan.drainUntil)));
    if (this.router && !(await this.router.idle(Math.min(5_000, msLeft(plan.drainUntil))))) {
      this.logger.warn("calls still in flight after the drain bound; they end with their patterns", { calls: this.router.callsInFlight });
    }
    await Promise.all(this.allSupervisors().map((s) => s.stop("proxy shutdown", plan.stopUntil)));
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

function safeRead(file: string): string | undefined {
  try {
    return readFileSync(file, "utf8");
  } catch {
    return undefined;
  }
}
