import { HealthStatus, type PatternMetadata } from "../proto/gen/prism/interfaces/lifecycle_pb";
import type { Upstream } from "./h2/upstream";
import type { NamespaceStats } from "./metrics";

/** Where a namespace's pattern is in its life, as the proxy sees it. */
export type PatternStatus = "starting" | "serving" | "unavailable" | "restarting" | "stopping" | "stopped" | "failed";

/** The last HealthCheck answer. */
export interface HealthSnapshot {
  status: string;
  message: string;
  details: Record<string, string>;
  checkedAt: string;
}

/**
 * The proxy's view of one namespace's pattern: status, where to forward, what it
 * serves, health and restarts. The supervisor writes it; the router reads it.
 */
export class PatternInstance {
  status: PatternStatus = "starting";
  pid: number | undefined;
  endpoint: string | undefined;
  /** Set only while serving. */
  upstream: Upstream | undefined;
  /** gRPC service names the pattern declared at Initialize (empty = unknown: forward everything). */
  services: ReadonlySet<string> = new Set();
  metadata: PatternMetadata | undefined;
  health: HealthSnapshot | undefined;
  restarts = 0;
  /** How the last launched process ended (set by the supervisor when it exits). */
  lastExit: { pid: number; code: number | null; signal: string | null; at: string } | undefined;
  lastError: string | undefined;
  /** Names the target in error messages, e.g. `namespace "default" (pattern memstore)`. */
  label: string;
  private readonly listeners: (() => void)[] = [];

  constructor(
    readonly namespace: string,
    /** Executable name (launched) or the address (remote) until the pattern names itself. */
    public pattern: string,
    readonly mode: "launched" | "remote",
    readonly stats: NamespaceStats,
  ) {
    this.label = `namespace "${namespace}" (pattern ${pattern})`;
  }

  /**
   * What the pattern's own grpc.health.v1 Watch last pushed: false while it says NOT_SERVING (its backend is
   * unreachable or its circuit breaker open), undefined when unknown (no Watch answer yet, or the stream ended).
   */
  watched: boolean | undefined;

  /** Serving, last reported healthy or degraded, and not NOT_SERVING on its health Watch. */
  get ready(): boolean {
    return this.status === "serving" && this.watched !== false && this.health?.status !== HealthStatus[HealthStatus.UNHEALTHY];
  }

  /** Records a status pushed on the pattern's health Watch. */
  setWatched(serving: boolean | undefined): void {
    if (serving === this.watched) return;
    this.watched = serving;
    this.changed();
  }

  /**
   * The pattern told its name at Initialize. A remote namespace's metrics move from
   * the address to that name; a launched one keeps its executable name as label.
   */
  named(name: string): void {
    if (name === "" || name === this.pattern) return;
    this.pattern = name;
    this.label = `namespace "${this.namespace}" (pattern ${name})`;
    if (this.mode === "remote") this.stats.relabel(name);
  }

  /** Records that the launched process `pid` exited. */
  exited(pid: number, exit: { code: number | null; signal: string | null }): void {
    this.lastExit = { pid, code: exit.code, signal: exit.signal, at: new Date().toISOString() };
  }

  /** Calls fn whenever status or health changes. */
  onChange(fn: () => void): void {
    this.listeners.push(fn);
  }

  /** Starts forwarding to a serving pattern. */
  serve(upstream: Upstream, endpoint: string, metadata: PatternMetadata | undefined): void {
    this.upstream = upstream;
    this.endpoint = endpoint;
    this.metadata = metadata;
    this.services = new Set(metadata?.interfaces.map((i) => i.name) ?? []);
    this.lastError = undefined;
    this.setStatus("serving");
  }

  /**
   * Stops forwarding (new calls get UNAVAILABLE) and drops the connections; `graceful` lets calls in flight
   * finish on them first (the pattern may still be answering them, e.g. while it stops gracefully).
   */
  unserve(status: PatternStatus, reason?: string, graceful = false): void {
    const up = this.upstream;
    this.upstream = undefined;
    this.watched = undefined;
    if (graceful) up?.retire();
    else up?.close();
    if (reason !== undefined) this.lastError = reason;
    this.setStatus(status);
  }

  setStatus(status: PatternStatus): void {
    this.status = status;
    this.changed();
  }

  setHealth(h: { status: HealthStatus; message: string; details: Record<string, string> }): void {
    const before = this.health?.status;
    this.health = { status: HealthStatus[h.status] ?? String(h.status), message: h.message, details: { ...h.details }, checkedAt: new Date().toISOString() };
    if (before !== this.health.status) this.changed();
  }

  private changed(): void {
    for (const l of this.listeners) l();
  }

  /** The JSON of /patterns. */
  snapshot() {
    return {
      namespace: this.namespace,
      pattern: this.pattern,
      mode: this.mode,
      status: this.status,
      ready: this.ready,
      pid: this.pid ?? null,
      endpoint: this.endpoint ?? null,
      metadata: this.metadata ? { name: this.metadata.name, version: this.metadata.version, interfaces: this.metadata.interfaces.map((i) => i.name) } : null,
      health: this.health ?? null,
      restarts: this.restarts,
      last_exit: this.lastExit ?? null,
      last_error: this.lastError ?? null,
    };
  }
}

/** Every namespace's PatternInstance, by name. */
export class PatternRegistry {
  private readonly byName = new Map<string, PatternInstance>();

  add(instance: PatternInstance): void {
    this.byName.set(instance.namespace, instance);
  }

  get(namespace: string): PatternInstance | undefined {
    return this.byName.get(namespace);
  }

  all(): PatternInstance[] {
    return [...this.byName.values()];
  }

  /** Ready only when every namespace's pattern is serving and healthy. */
  get ready(): boolean {
    for (const i of this.byName.values()) if (!i.ready) return false;
    return this.byName.size > 0;
  }

  snapshot() {
    return this.all().map((i) => i.snapshot());
  }
}
