import { HealthStatus } from "../../proto/gen/prism/interfaces/lifecycle_pb";
import type { Driver } from "../drivers/interfaces";
import type { Resilience } from "../drivers/resilience";
import type { PatternRuntime } from "./runtime";

/** How often readiness is re-evaluated (each time one driver health check, bounded by the driver). */
export const READINESS_INTERVAL_MS = 250;

/**
 * Whether the pattern can serve right now: serving (lifecycle), its backend reachable (driver health not
 * UNHEALTHY) and its circuit breaker not open (a breaker whose backend answers health again is half-opened). Re-evaluated every `intervalMs` and at every lifecycle change;
 * `onChange` hears every flip (grpc.health.v1 statuses, pushed to Watch streams), `current` answers /ready.
 * A backend that freezes or dies is NOT_SERVING within about one interval plus the driver's health bound.
 */
export class Readiness {
  private ready = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private stopped = false;
  private checking: Promise<void> | undefined;
  private again = false;
  reason = "not started";

  constructor(
    private readonly runtime: PatternRuntime,
    private readonly onChange: (ready: boolean, reason: string) => void,
    private readonly intervalMs = READINESS_INTERVAL_MS,
  ) {}

  get current(): boolean {
    return this.ready;
  }

  start(): void {
    this.stopped = false;
    void this.check();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  /** Evaluates now (coalesced with a check in progress) and schedules the next one. */
  check(): Promise<void> {
    if (this.checking) {
      this.again = true;
      return this.checking;
    }
    this.checking = this.evaluate().finally(() => {
      this.checking = undefined;
      if (this.stopped) return;
      if (this.again) {
        this.again = false;
        void this.check();
        return;
      }
      clearTimeout(this.timer);
      this.timer = setTimeout(() => void this.check(), this.intervalMs);
      this.timer.unref?.();
    });
    return this.checking;
  }

  private async evaluate(): Promise<void> {
    let ready = false;
    let reason: string;
    if (!this.runtime.serving) {
      reason = `pattern is ${this.runtime.state}`;
    } else {
      const h = await this.runtime.health();
      // Network drivers keep their Resilience in `guard` (sdk/drivers/resilience.ts).
      const driver = this.runtime.slot.isSet ? (this.runtime.slot.current as Driver & { guard?: Resilience }) : undefined;
      const guard = driver?.guard;
      let circuit = driver?.circuitState?.();
      // The backend answers its health check again: the breaker lets a call probe now rather than after the rest
      // of its open duration, so readiness (and calls) come back with the backend, not seconds later.
      if (circuit === "open" && h.status !== HealthStatus.UNHEALTHY && typeof guard?.backendAnswered === "function") {
        guard.backendAnswered();
        circuit = driver?.circuitState?.();
      }
      if (h.status === HealthStatus.UNHEALTHY) reason = h.message || "backend unhealthy";
      else if (circuit === "open") reason = h.message || "circuit breaker open";
      else {
        ready = true;
        reason = "";
      }
    }
    if (this.stopped) return;
    this.reason = reason;
    if (ready !== this.ready) {
      this.ready = ready;
      this.onChange(ready, reason);
    }
  }
}
