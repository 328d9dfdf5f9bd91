import { describe, expect, test } from "bun:test";
import { HealthStatus } from "../../proto/gen/prism/interfaces/lifecycle_pb";
import { Resilience } from "../drivers/resilience";
import { Code, PrismError } from "../errors";
import { Readiness } from "./readiness";
import type { PatternRuntime } from "./runtime";

/** A serving runtime whose driver has a real Resilience and a health report the test sets. */
function fakeRuntime() {
  const guard = new Resilience({
    name: "backend",
    mapError: (e) => PrismError.from(e),
    failureThreshold: 2,
    openDurationMs: 60_000,
    maxAttempts: 1,
    initialDelayMs: 1,
    maxDelayMs: 1,
  });
  const state = { health: HealthStatus.HEALTHY };
  const driver = { guard, circuitState: () => guard.breaker.state, health: () => ({ status: "healthy" as const }) };
  const runtime = {
    serving: true,
    state: "serving",
    slot: { isSet: true, current: driver },
    health: async () => ({ status: state.health, message: state.health === HealthStatus.UNHEALTHY ? "backend does not answer" : "", details: {} }),
  } as unknown as PatternRuntime;
  return { runtime, guard, state };
}

describe("Readiness", () => {
  test("follows health: NOT_SERVING while the backend is unhealthy, back at the next check when it answers", async () => {
    const { runtime, state } = fakeRuntime();
    const changes: boolean[] = [];
    const r = new Readiness(runtime, (ready) => changes.push(ready), 60_000);
    await r.check();
    state.health = HealthStatus.UNHEALTHY;
    await r.check();
    expect(r.current).toBe(false);
    expect(r.reason).toBe("backend does not answer");
    state.health = HealthStatus.HEALTHY;
    await r.check();
    r.stop();
    expect(changes).toEqual([true, false, true]);
  });

  test("a breaker left open by the outage does not hold readiness once health answers: it is half-opened, calls probe at once", async () => {
    const { runtime, guard, state } = fakeRuntime();
    const r = new Readiness(runtime, () => undefined, 60_000);
    state.health = HealthStatus.UNHEALTHY;
    for (let i = 0; i < 2; i++) await guard.write(() => Promise.reject(new PrismError(Code.UNAVAILABLE, "connection refused"))).catch(() => undefined);
    expect(guard.breaker.state).toBe("open");
    await r.check();
    expect(r.current).toBe(false);
    expect(guard.breaker.state).toBe("open");
    // The backend is back (health answers) long before the breaker's 60 s open duration ends.
    state.health = HealthStatus.DEGRADED;
    await r.check();
    r.stop();
    expect(r.current).toBe(true);
    expect(guard.breaker.state).toBe("half-open");
    expect(await guard.write(async () => "ok")).toBe("ok");
    expect(guard.breaker.state).toBe("closed");
  });
});
