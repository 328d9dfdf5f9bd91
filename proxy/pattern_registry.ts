import { Code } from "@prism/sdk";
import { HealthStatus, type PatternMetadata } from "../proto/gen/prism/interfaces/lifecycle_pb";
import type { H2ClientConnection } from "../h2";
import { FOLLOWS_STREAM, STREAM_HOME_SERVICES } from "./client_services";
import type { CallKind } from "./h2/call_kind";
import { isRefusal, type Lease, type Refusal, type Upstream } from "./h2/upstream";
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
 * The proxy's view of one instance of a namespace's pattern: status, where to forward, what it
 * serves, health and restarts. Its supervisor writes it; the router reads it through its ReplicaSet.
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
  /** Calls placed on this instance since the proxy started (its share of the namespace's load). */
  calls = 0;
  /** Its supervisor counts it up (for the namespace's `prism_pattern_up`). */
  up = false;
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
    /** Which of the namespace's instances (0-based). */
    readonly replica = 0,
  ) {
    this.label = `namespace "${namespace}" (pattern ${pattern})`;
  }

  /** Records whether the supervisor has it serving (the namespace is up while one instance is). */
  markUp(up: boolean): void {
    this.up = up;
    this.changed();
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

  /** This instance in /patterns: the namespace's fields plus its load. */
  snapshot() {
    return {
      replica: this.replica,
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
      in_flight: this.upstream?.callsInFlight ?? 0,
      calls: this.calls,
    };
  }
}

/** Statuses from the most to the least useful: a namespace is as far along as its best instance. */
const STATUS_ORDER: readonly PatternStatus[] = ["serving", "starting", "restarting", "unavailable", "stopping", "failed", "stopped"];

/**
 * The instances of one namespace's pattern (`replicas:` launched ones, or `addresses:` remote ones) as one place
 * to relay calls: each call goes to the ready instance with the fewest calls in flight, and stays on it to its end
 * (a stream never moves). An instance whose health Watch says NOT_SERVING, whose connection dropped or whose
 * process died is not ready, so it gets no new calls until its supervisor has it serving again; a call it refused
 * unprocessed is placed once more on another instance.
 */
export class ReplicaSet {
  readonly namespace: string;
  readonly stats: NamespaceStats;
  private readonly listeners: (() => void)[] = [];

  constructor(readonly instances: readonly PatternInstance[]) {
    if (instances.length === 0) throw new Error("a namespace needs at least one pattern instance");
    this.namespace = instances[0]!.namespace;
    this.stats = instances[0]!.stats;
    for (const i of instances) i.onChange(() => this.changed());
  }

  get pattern(): string {
    return this.instances[0]!.pattern;
  }

  get mode(): "launched" | "remote" {
    return this.instances[0]!.mode;
  }

  get label(): string {
    return this.instances[0]!.label;
  }

  /** The best status of its instances (serving while one serves). */
  get status(): PatternStatus {
    let best = STATUS_ORDER.length - 1;
    for (const i of this.instances) best = Math.min(best, STATUS_ORDER.indexOf(i.status));
    return STATUS_ORDER[best]!;
  }

  /** Ready while one instance is. */
  get ready(): boolean {
    return this.instances.some((i) => i.ready);
  }

  /** Services the serving instances declared (empty = unknown: forward everything). */
  get services(): ReadonlySet<string> {
    for (const i of this.instances) if (i.status === "serving" && i.services.size > 0) return i.services;
    return new Set();
  }

  /** One instance serves, so calls can be placed. */
  get routable(): boolean {
    return this.instances.some((i) => i.status === "serving" && i.upstream !== undefined);
  }

  onChange(fn: () => void): void {
    this.listeners.push(fn);
  }

  private detached = false;

  private changed(): void {
    if (!this.detached) this.stats.setUp(this.instances.some((i) => i.up));
    for (const l of this.listeners) l();
  }

  /** Replaced by a new version of the namespace: its stopping no longer moves the namespace's metrics. */
  detach(): void {
    this.detached = true;
  }

  /** Unary calls in flight on its instances (streams last as long as their clients want). */
  get unaryInFlight(): number {
    let n = 0;
    for (const i of this.instances) n += i.upstream?.unaryInFlight ?? 0;
    return n;
  }

  /**
   * Places a call on the ready instance with the fewest calls in flight (serving but not ready ones only when no
   * instance is ready: they answer for themselves). `avoid`, a retry's connection, sends it to another instance
   * when there is one. An instance that refuses it as unreachable passes it to the next.
   */
  place(kind: CallKind, client?: object, avoid?: H2ClientConnection, path?: string): Lease | Refusal {
    const candidates = this.candidates(avoid);
    // An Ack / Nack follows its client connection's latest Consume on this namespace (FOLLOWS_STREAM: only the
    // instance that delivered frees the stream's in-flight places), while that instance is a candidate; a retry
    // (avoid) goes elsewhere as before. Every other call spreads by calls in flight.
    const service = client !== undefined && path !== undefined && candidates.length > 1 ? serviceOf(path) : undefined;
    if (service !== undefined && kind === "unary" && avoid === undefined && FOLLOWS_STREAM.has(path!)) {
      const home = this.streamHomes.get(client!)?.get(service);
      const at = home === undefined ? -1 : candidates.indexOf(home);
      if (at > 0) candidates.unshift(...candidates.splice(at, 1));
    }
    let refusal: Refusal = { code: Code.UNAVAILABLE, message: "has no instance serving; retry later" };
    // An instance that cannot take it (unreachable, or at its bound) passes it to the next.
    for (const i of candidates) {
      const lease = i.upstream!.place(kind, client, avoid);
      if (!isRefusal(lease)) {
        i.calls++;
        if (service !== undefined && kind === "stream" && STREAM_HOME_SERVICES.has(service)) {
          let homes = this.streamHomes.get(client!);
          if (homes === undefined) this.streamHomes.set(client!, (homes = new Map()));
          homes.set(service, i);
        }
        return lease;
      }
      refusal = lease;
    }
    return refusal;
  }

  /** Per client connection (weakly held), the instance of its latest stream of each service. */
  private readonly streamHomes = new WeakMap<object, Map<string, PatternInstance>>();

  private candidates(avoid: H2ClientConnection | undefined): PatternInstance[] {
    const serving = this.instances.filter((i) => i.status === "serving" && i.upstream !== undefined);
    if (serving.length <= 1) return serving;
    const ready = serving.filter((i) => i.ready);
    const pool = ready.length > 0 ? ready : serving;
    // Fewest in flight first; ties go to the instance with fewer calls so far, so an idle set still takes turns.
    pool.sort((a, b) => a.upstream!.callsInFlight - b.upstream!.callsInFlight || a.calls - b.calls);
    if (avoid !== undefined && pool.length > 1) {
      const at = pool.findIndex((i) => i.upstream!.owns(avoid));
      if (at >= 0) pool.push(...pool.splice(at, 1));
    }
    return pool;
  }

  /** Stops forwarding to every instance (tests, and a namespace that is gone). */
  unserve(status: PatternStatus, reason?: string): void {
    for (const i of this.instances) i.unserve(status, reason);
  }

  /**
   * The JSON of /patterns: the namespace's fields as before (from its first ready instance, or its first), its
   * aggregate status and readiness, and every instance with its health and load under `replicas`.
   */
  snapshot() {
    const shown = this.instances.find((i) => i.ready) ?? this.instances[0]!;
    return {
      ...shown.snapshot(),
      status: this.status,
      ready: this.ready,
      restarts: this.instances.reduce((n, i) => n + i.restarts, 0),
      in_flight: this.instances.reduce((n, i) => n + (i.upstream?.callsInFlight ?? 0), 0),
      calls: this.instances.reduce((n, i) => n + i.calls, 0),
      replicas: this.instances.map((i) => i.snapshot()),
    };
  }
}

/** Every namespace's instances, by name. */
export class PatternRegistry {
  private readonly byName = new Map<string, ReplicaSet>();
  private readonly addListeners: ((set: ReplicaSet) => void)[] = [];

  /** Adds (or replaces) a namespace; a lone instance is a set of one. */
  add(entry: ReplicaSet | PatternInstance): ReplicaSet {
    const set = entry instanceof ReplicaSet ? entry : new ReplicaSet([entry]);
    this.byName.set(set.namespace, set);
    for (const l of this.addListeners) l(set);
    return set;
  }

  /** Forgets a namespace: its calls get NOT_FOUND from now on. */
  remove(namespace: string): void {
    this.byName.delete(namespace);
  }

  /** Calls fn for every namespace added (or replaced) from now on. */
  onAdd(fn: (set: ReplicaSet) => void): void {
    this.addListeners.push(fn);
  }

  get(namespace: string): ReplicaSet | undefined {
    return this.byName.get(namespace);
  }

  all(): ReplicaSet[] {
    return [...this.byName.values()];
  }

  /** Every instance of every namespace. */
  instances(): PatternInstance[] {
    return this.all().flatMap((s) => [...s.instances]);
  }

  /** Ready only when every namespace has a ready instance. */
  get ready(): boolean {
    for (const s of this.byName.values()) if (!s.ready) return false;
    return this.byName.size > 0;
  }

  snapshot() {
    return this.all().map((s) => s.snapshot());
  }
}

function serviceOf(path: string): string {
  return path.slice(1, path.lastIndexOf("/"));
}
