import type http2 from "node:http2";
import { DEFAULT_NAMESPACE, NAMESPACE_HEADER, Code } from "@prism/sdk";
import type { CallTracer } from "./call_tracer";
import type { DeprecatedCalls } from "./deprecation";
import { relay } from "./h2/relay";
import { respondWithStatus } from "./h2/status";
import type { Upstream } from "./h2/upstream";
import type { ProxyMetrics } from "./metrics";
import type { PatternRegistry } from "./pattern_registry";
import type { SecurityGate } from "./security/gate";
import { LOCAL_SECRET_HEADER } from "./security/local_access";

/** Services the proxy answers itself (through its local server): health and reflection. */
const LOCAL_PREFIXES = ["/grpc.health.v1.Health/", "/grpc.reflection.v1.ServerReflection/", "/grpc.reflection.v1alpha.ServerReflection/"];
const LIFECYCLE_PREFIX = "/prism.interfaces.LifecycleInterface/";
/** Read-only lifecycle call clients may make through the proxy (live health with debug details). */
const LIFECYCLE_HEALTH = "/prism.interfaces.LifecycleInterface/HealthCheck";
const CONTROL_PLANE_PREFIX = "/prism.interfaces.ProxyControlPlane/";
/** The namespace admin API, answered by the proxy itself: class `admin` on the call's namespace, auth required. */
const NAMESPACE_ADMIN_PREFIX = "/prism.admin.NamespaceAdmin/";

function ignoreSettled(): void {}

/** Body bytes held for a call whose credentials are still being verified (one 4 MiB message and its framing). */
const MAX_HELD_BYTES = 4 * 1024 * 1024 + 5;

/**
 * Waits for a decision taken asynchronously (first sight of a JWT) without losing the request: the body frames
 * that arrive meanwhile are held and handed to the relay once it listens; a refused call was answered by the gate.
 * An unauthenticated caller cannot make the proxy hold more than MAX_HELD_BYTES, and a verification that fails
 * (e.g. the JWKS could not be fetched) is answered UNAUTHENTICATED rather than left to the caller's deadline.
 */
export function admitLater(stream: http2.ServerHttp2Stream, decision: Promise<boolean>, go: () => void): void {
  const held: Buffer[] = [];
  let heldBytes = 0;
  let ended = false;
  let settled = false;
  const stopHolding = () => {
    settled = true;
    stream.off("data", hold);
    stream.off("end", end);
  };
  const hold = (chunk: Buffer) => {
    heldBytes += chunk.length;
    if (heldBytes <= MAX_HELD_BYTES) return void held.push(chunk);
    stopHolding();
    held.length = 0;
    respondWithStatus(stream, Code.RESOURCE_EXHAUSTED, "request body too large while its credentials are verified");
  };
  const end = () => (ended = true);
  stream.on("data", hold);
  stream.once("end", end);
  const release = (admitted: boolean) => {
    if (settled) return;
    stopHolding();
    if (!admitted || stream.destroyed) return;
    go();
    for (const chunk of held) stream.emit("data", chunk);
    if (ended) stream.emit("end");
  };
  decision.then(release, () => {
    if (settled) return;
    stopHolding();
    respondWithStatus(stream, Code.UNAUTHENTICATED, "credentials could not be verified");
  });
}

function isLocal(path: string): boolean {
  for (const p of LOCAL_PREFIXES) if (path.startsWith(p)) return true;
  return false;
}

/**
 * Decides where each incoming call goes — by method path and x-prism-namespace —
 * and relays it there, or answers it with a status: NOT_FOUND (unknown namespace),
 * UNAVAILABLE (pattern not serving, proxy shutting down), UNIMPLEMENTED (service
 * the pattern does not declare), PERMISSION_DENIED (lifecycle control).
 */
export class Router {
  private open = true;
  private inflight = 0;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly registry: PatternRegistry,
    /** The proxy's own gRPC server (health, reflection). */
    private readonly local: Upstream,
    private readonly metrics: ProxyMetrics,
    private readonly tracer?: CallTracer,
    /** Authentication and authorization; undefined = auth off (every caller may call every namespace). */
    private readonly gate?: SecurityGate,
    /** Counts and logs calls to deprecated services. */
    private readonly deprecated?: DeprecatedCalls,
  ) {}

  /** Calls relayed to patterns and not yet finished (the proxy's own health and reflection calls are not counted). */
  get callsInFlight(): number {
    return this.inflight;
  }

  /** The StreamHandler of the listener. */
  readonly handle = (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): void => {
    const path = headers[":path"] ?? "";
    if (!this.open) {
      this.metrics.reject("shutting_down");
      return respondWithStatus(stream, Code.UNAVAILABLE, "proxy is shutting down");
    }
    if (isLocal(path)) {
      // Not counted in flight: a health Watch lasts as long as its client wants, and would hold idle() to its bound.
      // The local server ends these calls when it stops.
      const ok = this.gate === undefined || this.gate.checkLocal(stream, headers, path);
      if (ok === true) return relay(stream, headers, this.local, "proxy", ignoreSettled);
      if (ok !== false) admitLater(stream, ok, () => relay(stream, headers, this.local, "proxy", ignoreSettled));
      return;
    }
    if (path.startsWith(NAMESPACE_ADMIN_PREFIX)) return this.admin(stream, headers, path);
    if (path.startsWith(CONTROL_PLANE_PREFIX) || (path.startsWith(LIFECYCLE_PREFIX) && path !== LIFECYCLE_HEALTH)) {
      this.metrics.reject("lifecycle");
      return respondWithStatus(stream, Code.PERMISSION_DENIED, `${path.slice(1)} is not open to clients: the proxy drives pattern lifecycles`);
    }
    const nsHeader = headers[NAMESPACE_HEADER];
    const namespace = (Array.isArray(nsHeader) ? nsHeader[0] : nsHeader) || DEFAULT_NAMESPACE;
    if (this.gate !== undefined) {
      // Before the namespace lookup: an unauthenticated caller learns nothing, not even which namespaces exist.
      const ok = this.gate.check(stream, headers, path, namespace);
      if (ok === false) return;
      if (ok !== true) {
        admitLater(stream, ok, () => this.forward(stream, headers, path, namespace));
        return;
      }
    }
    this.forward(stream, headers, path, namespace);
  };

  /**
   * A namespace admin call: authorized like a data call on the namespace it names (class `admin`), then answered
   * by the proxy's own server. Without auth there is no principal to grant `admin` to, so the API is closed.
   */
  private admin(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, path: string): void {
    const gate = this.gate;
    if (gate === undefined) {
      this.metrics.reject("permission_denied");
      return respondWithStatus(stream, Code.PERMISSION_DENIED, `${path.slice(1)} needs auth: on the proxy (a principal granted admin on the namespace)`);
    }
    const nsHeader = headers[NAMESPACE_HEADER];
    const namespace = (Array.isArray(nsHeader) ? nsHeader[0] : nsHeader) || DEFAULT_NAMESPACE;
    const go = () => {
      headers[LOCAL_SECRET_HEADER] = gate.localSecret;
      relay(stream, headers, this.local, "proxy", ignoreSettled);
    };
    const ok = gate.check(stream, headers, path, namespace);
    if (ok === true) return go();
    if (ok !== false) admitLater(stream, ok, go);
  }

  /** Relays an admitted call to its namespace's pattern, or answers NOT_FOUND / UNAVAILABLE / UNIMPLEMENTED. */
  private forward(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, path: string, namespace: string): void {
    const set = this.registry.get(namespace);
    if (set === undefined) {
      this.metrics.reject("unknown_namespace");
      return respondWithStatus(stream, Code.NOT_FOUND, `namespace "${namespace}" is not configured`);
    }
    const stats = set.stats.forPath(path);
    if (!set.routable) {
      stats.refused(Code.UNAVAILABLE);
      return respondWithStatus(stream, Code.UNAVAILABLE, `${set.label} is ${set.status}; retry later`);
    }
    const services = set.services;
    if (services.size > 0 && path !== LIFECYCLE_HEALTH) {
      const service = stats.service || path.slice(1, path.lastIndexOf("/"));
      // Patterns built on the original Go SDK declare interfaces by short name ("KeyValueBasicInterface").
      if (!services.has(service) && !services.has(service.slice(service.lastIndexOf(".") + 1))) {
        stats.refused(Code.UNIMPLEMENTED);
        return respondWithStatus(stream, Code.UNIMPLEMENTED, `${set.label} does not implement ${service}`);
      }
    }
    this.deprecated?.observe(path, namespace, stream, headers);
    const span = this.tracer?.start(headers, path, namespace, set.pattern, set.mode === "launched");
    const start = performance.now();
    this.inflight++;
    relay(stream, headers, set, set.label, (code) => {
      stats.record(code, (performance.now() - start) / 1000);
      if (span !== undefined) this.tracer!.end(span, code);
      this.finished();
    });
  }

  private finished(): void {
    if (--this.inflight === 0 && this.idleWaiters.length > 0) for (const w of this.idleWaiters.splice(0)) w();
  }

  /** New calls get UNAVAILABLE from now on. */
  stopAccepting(): void {
    this.open = false;
  }

  /** False once shutdown has begun. */
  get accepting(): boolean {
    return this.open;
  }

  /** Resolves when no call relayed to a pattern is in flight, or after timeoutMs; true when idle. */
  async idle(timeoutMs: number): Promise<boolean> {
    if (this.inflight === 0) return true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const done = await Promise.race([
      new Promise<boolean>((r) => this.idleWaiters.push(() => r(true))),
      new Promise<boolean>((r) => (timer = setTimeout(() => r(false), timeoutMs))),
    ]);
    clearTimeout(timer);
    return done;
  }
}
