import { Code, PrismError } from "../errors";

/** The three states of a breaker: closed (calls flow), open (calls rejected fast), half-open (a few probes). */
export type CircuitState = "closed" | "open" | "half-open";

/** Tuning and hooks of a CircuitBreaker. */
export interface CircuitBreakerOptions {
  /** Names the protected backend in errors and metrics, e.g. "redis". */
  name: string;
  /** Consecutive failures that open the breaker (default 5). */
  failureThreshold?: number;
  /** How long the breaker stays open before letting probes through, in ms (default 10 000). */
  openDurationMs?: number;
  /** Calls allowed in flight while half-open; more are rejected fast (default 1). */
  halfOpenMaxProbes?: number;
  /** Successful probes needed to close again (default 1). */
  successThreshold?: number;
  /** Which errors count against the backend (default isBackendFailure). Others count as a healthy answer. */
  isFailure?: (err: unknown) => boolean;
  /** Called on every transition, e.g. to set a state gauge. */
  onStateChange?: (from: CircuitState, to: CircuitState, name: string) => void;
  /** Clock in ms, injectable for tests (default Date.now). */
  now?: () => number;
}

const callerFaults: ReadonlySet<number> = new Set<number>([
  Code.CANCELLED,
  Code.INVALID_ARGUMENT,
  Code.NOT_FOUND,
  Code.ALREADY_EXISTS,
  Code.ABORTED,
  Code.PERMISSION_DENIED,
  Code.FAILED_PRECONDITION,
  Code.OUT_OF_RANGE,
  Code.UNIMPLEMENTED,
  Code.UNAUTHENTICATED,
]);

/**
 * Default failure predicate: an error counts against the backend unless its code (via PrismError.from) says the
 * caller was at fault or gave up (INVALID_ARGUMENT, NOT_FOUND, CANCELLED, ...), so bad requests never open a breaker.
 */
export function isBackendFailure(err: unknown): boolean {
  return !callerFaults.has(PrismError.from(err).code);
}

/** The error of a call the breaker refused: the backend was never called, so the call certainly had no effect. */
export class CircuitOpenError extends PrismError {
  constructor(readonly breakerName: string) {
    super(Code.UNAVAILABLE, `circuit open for ${breakerName}`);
  }
}

/**
 * Stops calling a backend that keeps failing, so callers get a fast UNAVAILABLE instead of piling up on timeouts,
 * and lets a limited number of probes through after `openDurationMs` to detect recovery.
 */
export class CircuitBreaker {
  readonly name: string;
  private readonly failureThreshold: number;
  private readonly openDurationMs: number;
  private readonly halfOpenMaxProbes: number;
  private readonly successThreshold: number;
  private readonly isFailure: (err: unknown) => boolean;
  private readonly onStateChange: ((from: CircuitState, to: CircuitState, name: string) => void) | undefined;
  private readonly now: () => number;

  private current: CircuitState = "closed";
  /** Bumped on every transition; results of calls admitted under an older generation are ignored. */
  private generation = 0;
  private consecutiveFailures = 0;
  private openedAt = 0;
  private probesInFlight = 0;
  private probeSuccesses = 0;

  constructor(opts: CircuitBreakerOptions) {
    this.name = opts.name;
    this.failureThreshold = Math.max(1, opts.failureThreshold ?? 5);
    this.openDurationMs = Math.max(0, opts.openDurationMs ?? 10_000);
    this.halfOpenMaxProbes = Math.max(1, opts.halfOpenMaxProbes ?? 1);
    this.successThreshold = Math.max(1, opts.successThreshold ?? 1);
    this.isFailure = opts.isFailure ?? isBackendFailure;
    this.onStateChange = opts.onStateChange;
    this.now = opts.now ?? Date.now;
  }

  /** Current state; an open breaker whose open duration has elapsed reports (and becomes) half-open. */
  get state(): CircuitState {
    this.refresh();
    return this.current;
  }

  /**
   * Runs `fn` if the breaker admits it, recording the outcome; while open (or when half-open probes are all
   * taken) rejects at once with PrismError(UNAVAILABLE, "circuit open for <name>") without calling `fn`.
   */
  async execute<T>(fn: () => Promise<T>): Promise<T> {
    this.refresh();
    if (this.current === "open" || (this.current === "half-open" && this.probesInFlight >= this.halfOpenMaxProbes)) {
      throw new CircuitOpenError(this.name);
    }
    const generation = this.generation;
    const probe = this.current === "half-open";
    if (probe) this.probesInFlight++;
    try {
      const value = await fn();
      this.record(generation, probe, "success");
      return value;
    } catch (err) {
      // A call its caller gave up on (CANCELLED) says nothing of the backend: it neither closes nor opens.
      this.record(generation, probe, this.isFailure(err) ? "failure" : PrismError.from(err).code === Code.CANCELLED ? "neutral" : "success");
      throw err;
    }
  }

  /**
   * The backend answered a health check: an open breaker becomes half-open now, so the next call probes at once
   * instead of after the rest of the open duration (calls resume as soon as the backend is back).
   */
  probeNow(): void {
    if (this.current === "open") this.transition("half-open");
  }

  private record(generation: number, probe: boolean, outcome: "success" | "failure" | "neutral"): void {
    if (generation !== this.generation) return;
    if (probe) this.probesInFlight--;
    if (outcome === "neutral") return;
    const failed = outcome === "failure";
    if (this.current === "closed") {
      if (!failed) {
        this.consecutiveFailures = 0;
      } else if (++this.consecutiveFailures >= this.failureThreshold) {
        this.transition("open");
      }
    } else if (this.current === "half-open") {
      if (failed) this.transition("open");
      else if (++this.probeSuccesses >= this.successThreshold) this.transition("closed");
    }
  }

  private refresh(): void {
    if (this.current === "open" && this.now() - this.openedAt >= this.openDurationMs) this.transition("half-open");
  }

  private transition(to: CircuitState): void {
    const from = this.current;
    this.current = to;
    this.generation++;
    this.consecutiveFailures = 0;
    this.probesInFlight = 0;
    this.probeSuccesses = 0;
    if (to === "open") this.openedAt = this.now();
    this.onStateChange?.(from, to, this.name);
  }
}
