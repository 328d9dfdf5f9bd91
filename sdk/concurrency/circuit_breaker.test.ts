import { describe, expect, test } from "bun:test";
import { Code, PrismError } from "../errors";
import { CircuitBreaker, type CircuitBreakerOptions, type CircuitState, isBackendFailure } from "./circuit_breaker";
import { deferred } from "./test_support";

const down = () => new PrismError(Code.UNAVAILABLE, "connection refused");
const fail = () => Promise.reject(down());
const ok = () => Promise.resolve("ok");

function setup(opts: Partial<CircuitBreakerOptions> = {}) {
  let clock = 1_000;
  const transitions: Array<[CircuitState, CircuitState]> = [];
  const breaker = new CircuitBreaker({
    name: "redis",
    failureThreshold: 3,
    openDurationMs: 1_000,
    now: () => clock,
    onStateChange: (from, to, name) => {
      expect(name).toBe("redis");
      transitions.push([from, to]);
    },
    ...opts,
  });
  return { breaker, transitions, advance: (ms: number) => (clock += ms) };
}

async function failTimes(breaker: CircuitBreaker, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await breaker.execute(fail).catch(() => undefined);
}

describe("CircuitBreaker", () => {
  test("starts closed and passes results and errors through", async () => {
    const { breaker } = setup();
    expect(breaker.state).toBe("closed");
    expect(await breaker.execute(ok)).toBe("ok");
    const err = down();
    await expect(breaker.execute(() => Promise.reject(err))).rejects.toBe(err);
    expect(breaker.state).toBe("closed");
  });

  test("opens after failureThreshold consecutive failures and reports the transition", async () => {
    const { breaker, transitions } = setup();
    await failTimes(breaker, 2);
    expect(breaker.state).toBe("closed");
    await failTimes(breaker, 1);
    expect(breaker.state).toBe("open");
    expect(transitions).toEqual([["closed", "open"]]);
  });

  test("a success resets the consecutive failure count", async () => {
    const { breaker } = setup();
    await failTimes(breaker, 2);
    await breaker.execute(ok);
    await failTimes(breaker, 2);
    expect(breaker.state).toBe("closed");
    await failTimes(breaker, 1);
    expect(breaker.state).toBe("open");
  });

  test("while open, rejects fast with UNAVAILABLE naming the backend, without calling fn", async () => {
    const { breaker, advance } = setup();
    await failTimes(breaker, 3);
    let called = false;
    const err = await breaker
      .execute(async () => {
        called = true;
      })
      .catch((e: unknown) => e);
    expect(called).toBe(false);
    expect(err).toBeInstanceOf(PrismError);
    expect((err as PrismError).code).toBe(Code.UNAVAILABLE);
    expect((err as PrismError).message).toBe("circuit open for redis");
    advance(999);
    expect(breaker.state).toBe("open");
  });

  test("after the open duration goes half-open and a successful probe closes it", async () => {
    const { breaker, transitions, advance } = setup();
    await failTimes(breaker, 3);
    advance(1_000);
    expect(breaker.state).toBe("half-open");
    expect(await breaker.execute(ok)).toBe("ok");
    expect(breaker.state).toBe("closed");
    expect(transitions).toEqual([
      ["closed", "open"],
      ["open", "half-open"],
      ["half-open", "closed"],
    ]);
    // closed again with a fresh count: it takes the full threshold to reopen
    await failTimes(breaker, 2);
    expect(breaker.state).toBe("closed");
  });

  test("probeNow (the backend answered a health check) makes an open breaker half-open before its open duration", async () => {
    const { breaker, transitions } = setup();
    breaker.probeNow();
    expect(breaker.state).toBe("closed");
    await failTimes(breaker, 3);
    expect(breaker.state).toBe("open");
    breaker.probeNow();
    expect(breaker.state).toBe("half-open");
    expect(await breaker.execute(ok)).toBe("ok");
    expect(transitions).toEqual([
      ["closed", "open"],
      ["open", "half-open"],
      ["half-open", "closed"],
    ]);
  });

  test("a failed probe reopens it and restarts the open duration", async () => {
    const { breaker, transitions, advance } = setup();
    await failTimes(breaker, 3);
    advance(1_000);
    await failTimes(breaker, 1);
    expect(breaker.state).toBe("open");
    advance(500);
    await expect(breaker.execute(ok)).rejects.toThrow("circuit open for redis");
    advance(500);
    expect(breaker.state).toBe("half-open");
    expect(transitions.map(([, to]) => to)).toEqual(["open", "half-open", "open", "half-open"]);
  });

  test("half-open admits only halfOpenMaxProbes concurrent probes", async () => {
    const { breaker, advance } = setup({ halfOpenMaxProbes: 2, successThreshold: 2 });
    await failTimes(breaker, 3);
    advance(1_000);
    const first = deferred<string>();
    const second = deferred<string>();
    const p1 = breaker.execute(() => first.promise);
    const p2 = breaker.execute(() => second.promise);
    let thirdCalled = false;
    const p3 = breaker.execute(async () => {
      thirdCalled = true;
    });
    await expect(p3).rejects.toMatchObject({ code: Code.UNAVAILABLE });
    expect(thirdCalled).toBe(false);

    first.resolve("a");
    expect(await p1).toBe("a");
    expect(breaker.state).toBe("half-open"); // needs two successes
    second.resolve("b");
    expect(await p2).toBe("b");
    expect(breaker.state).toBe("closed");
  });

  test("errors that are the caller's fault (INVALID_ARGUMENT) never open it", async () => {
    const { breaker } = setup();
    for (let i = 0; i < 10; i++) {
      await breaker.execute(() => Promise.reject(new PrismError(Code.INVALID_ARGUMENT, "empty key"))).catch(() => undefined);
    }
    expect(breaker.state).toBe("closed");
    // and they count as a healthy answer, resetting the failure streak
    await failTimes(breaker, 2);
    await breaker.execute(() => Promise.reject(new PrismError(Code.NOT_FOUND, "x"))).catch(() => undefined);
    await failTimes(breaker, 2);
    expect(breaker.state).toBe("closed");
  });

  test("a call its caller gave up on (CANCELLED) neither closes a half-open breaker nor resets the failure streak", async () => {
    const { breaker, advance } = setup();
    const cancelled = () => Promise.reject(new PrismError(Code.CANCELLED, "the client went away"));
    await failTimes(breaker, 2);
    await breaker.execute(cancelled).catch(() => undefined);
    await failTimes(breaker, 1);
    expect(breaker.state).toBe("open");
    advance(1_000);
    expect(breaker.state).toBe("half-open");
    await breaker.execute(cancelled).catch(() => undefined);
    expect(breaker.state).toBe("half-open");
    // its probe place was given back: the next call probes
    expect(await breaker.execute(ok)).toBe("ok");
    expect(breaker.state).toBe("closed");
  });

  test("a custom isFailure predicate decides what counts", async () => {
    const { breaker } = setup({ failureThreshold: 1, isFailure: (e) => (e as Error).message === "timeout" });
    await breaker.execute(() => Promise.reject(new Error("other"))).catch(() => undefined);
    expect(breaker.state).toBe("closed");
    await breaker.execute(() => Promise.reject(new Error("timeout"))).catch(() => undefined);
    expect(breaker.state).toBe("open");
  });

  test("late results of calls admitted before a transition do not move the new state", async () => {
    const { breaker, advance } = setup({ failureThreshold: 1 });
    const slow = deferred<string>();
    const stale = breaker.execute(() => slow.promise); // admitted while closed
    await failTimes(breaker, 1);
    expect(breaker.state).toBe("open");
    advance(1_000);
    const probeGate = deferred<string>();
    const probe = breaker.execute(() => probeGate.promise);
    expect(breaker.state).toBe("half-open");
    // the old call failing now says nothing about the probe: the breaker stays half-open
    slow.reject(down());
    await stale.catch(() => undefined);
    expect(breaker.state).toBe("half-open");
    probeGate.resolve("recovered");
    expect(await probe).toBe("recovered");
    expect(breaker.state).toBe("closed");
  });

  test("a synchronous throw in fn is recorded as a failure", async () => {
    const { breaker } = setup({ failureThreshold: 1 });
    await expect(
      breaker.execute(() => {
        throw down();
      }),
    ).rejects.toMatchObject({ code: Code.UNAVAILABLE });
    expect(breaker.state).toBe("open");
  });

  test("isBackendFailure classifies by gRPC code", () => {
    expect(isBackendFailure(down())).toBe(true);
    expect(isBackendFailure(new PrismError(Code.DEADLINE_EXCEEDED, "slow"))).toBe(true);
    expect(isBackendFailure(new Error("socket hang up"))).toBe(true);
    expect(isBackendFailure(new PrismError(Code.INVALID_ARGUMENT, "bad"))).toBe(false);
    expect(isBackendFailure(new PrismError(Code.UNIMPLEMENTED, "no ttl"))).toBe(false);
    expect(isBackendFailure(new DOMException("cancelled", "AbortError"))).toBe(false);
  });
});
