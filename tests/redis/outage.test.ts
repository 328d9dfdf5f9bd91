import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { HealthStatus } from "../../proto/gen/prism/interfaces/lifecycle_pb";
import { Code, PrismError } from "../../sdk/grpc/errors";
import { eventually, startOwnRedis, startRedisPattern, str, text, uniqueNamespace, type OwnRedis, type RedisPattern } from "./harness";
import { FAST_RECOVERY } from "./target";

/** No call may take longer than this; a hang would show up as DEADLINE_EXCEEDED. */
const CALL_DEADLINE_MS = 5_000;

function codeOf(err: unknown): number {
  return PrismError.from(err).code;
}

async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; ok: boolean; code?: number; message?: string }> {
  const start = performance.now();
  try {
    await fn();
    return { ms: performance.now() - start, ok: true };
  } catch (err) {
    return { ms: performance.now() - start, ok: false, code: codeOf(err), message: (err as Error).message };
  }
}

async function scrape(p: RedisPattern): Promise<string> {
  return (await fetch(`http://127.0.0.1:${p.metricsPort}/metrics`)).text();
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

describe("Redis stopped and restarted under load", () => {
  let own: OwnRedis;
  let pattern: RedisPattern;

  beforeAll(async () => {
    own = await startOwnRedis();
    pattern = await startRedisPattern({ address: own.address, namespace: uniqueNamespace("outage"), ...FAST_RECOVERY });
  });

  afterAll(async () => {
    try {
      await pattern?.stop();
    } finally {
      await own?.destroy();
    }
  });

  test("no hang, UNAVAILABLE, fast failure once the breaker is open, recovery without restart, no acknowledged write lost", async () => {
    const { kv, batch, lifecycle } = pattern.clients;
    const acked = new Map<string, string>();
    const failureCodes = new Map<number, number>();
    let running = true;
    let seq = 0;
    const writer = async () => {
      while (running) {
        const key = `w-${++seq}`;
        const value = `value-${seq}`;
        try {
          await kv.set({ key, value: text(value) }, { timeoutMs: CALL_DEADLINE_MS });
          acked.set(key, value);
        } catch (err) {
          // A write in flight when Redis died may have been applied: it must say its outcome is unknown.
          if (codeOf(err) !== Code.UNAVAILABLE) expect((err as Error).message).toContain("outcome is unknown");
          failureCodes.set(codeOf(err), (failureCodes.get(codeOf(err)) ?? 0) + 1);
          await Bun.sleep(5);
        }
      }
    };
    const writers = [writer(), writer(), writer(), writer()];
    expect(await eventually(() => acked.size >= 300, 15_000)).toBe(true);

    await own.stop("SIGKILL");
    const ackedBeforeOutage = acked.size;

    // Calls fail, and fail UNAVAILABLE, within a bound.
    const during = await timed(() => kv.get({ key: "w-1" }, { timeoutMs: CALL_DEADLINE_MS }));
    expect(during.ok).toBe(false);
    expect(during.code).toBe(Code.UNAVAILABLE);

    // The breaker opens; from then on calls are refused without touching Redis.
    expect(
      await eventually(async () => {
        const r = await timed(() => kv.get({ key: "w-1" }));
        return r.message?.includes("circuit open") ?? false;
      }, 5_000),
    ).toBe(true);
    const fast: number[] = [];
    for (let i = 0; i < 20; i++) {
      const r = await timed(() => kv.get({ key: "w-1" }, { timeoutMs: CALL_DEADLINE_MS }));
      expect(r.ok).toBe(false);
      expect(r.code).toBe(Code.UNAVAILABLE);
      if (r.message?.includes("circuit open")) fast.push(r.ms);
    }
    expect(fast.length).toBeGreaterThan(0);
    expect(median(fast)).toBeLessThan(100);

    // The breaker shows on /metrics; failures are counted by class (seed 004): the lost server's
    // connection errors, then the breaker's refusals.
    const metrics = await scrape(pattern);
    expect(metrics).toMatch(/^circuit_breaker_state\{driver="redis"\} [12]$/m);
    expect(metrics).toMatch(
      /^driver_error_total\{driver="redis",operation="(set|get)",error_type="(connection_refused|connection_reset|unavailable|timeout)"\} [1-9]/m,
    );
    expect(metrics).toMatch(/^driver_error_total\{driver="redis",operation="get",error_type="circuit_open"\} [1-9]/m);

    // Health says unhealthy, and why.
    const health = await lifecycle.healthCheck({});
    expect(health.status).toBe(HealthStatus.UNHEALTHY);
    expect(health.message).toContain(own.address);

    await own.restart();

    // The same pattern process recovers by itself.
    const pidBefore = pattern.proc.pid;
    expect(
      await eventually(async () => (await timed(() => kv.get({ key: "w-1" }))).ok, 15_000, 100),
      "the pattern did not recover within 15 s after Redis came back",
    ).toBe(true);
    expect(pattern.proc.proc.exitCode).toBeNull();
    expect(pattern.proc.pid).toBe(pidBefore);
    const ackedAtRecovery = acked.size;
    expect(await eventually(() => acked.size > ackedAtRecovery + 50, 15_000)).toBe(true);
    running = false;
    await Promise.all(writers);

    // Every failure the writers saw was UNAVAILABLE (certainly not applied), or UNKNOWN / DEADLINE_EXCEEDED for a
    // write in flight when Redis died (outcome unknown, checked above); never a hang (the 5 s deadline).
    expect([...failureCodes.keys()].every((c) => c === Code.UNAVAILABLE || c === Code.UNKNOWN || c === Code.DEADLINE_EXCEEDED)).toBe(true);
    expect(failureCodes.get(Code.UNAVAILABLE)).toBeGreaterThan(0);
    expect(ackedBeforeOutage).toBeGreaterThanOrEqual(300);

    // No acknowledged write is lost: before, during (none acknowledged) and after the outage.
    const keys = [...acked.keys()];
    for (let i = 0; i < keys.length; i += 1000) {
      const chunk = keys.slice(i, i + 1000);
      const got = await batch.batchGet({ keys: chunk });
      const lost = chunk.filter((k, j) => !got.results[j]!.found || str(got.results[j]!.value) !== acked.get(k));
      expect(lost).toEqual([]);
    }

    expect(await eventually(async () => (await lifecycle.healthCheck({})).status === HealthStatus.HEALTHY, 5_000)).toBe(true);
    expect(await scrape(pattern)).toMatch(/^circuit_breaker_state\{driver="redis"\} 0$/m);
  }, 90_000);
});

describe("Redis frozen (SIGSTOP) and thawed", () => {
  let own: OwnRedis;
  let pattern: RedisPattern;

  beforeAll(async () => {
    own = await startOwnRedis();
    pattern = await startRedisPattern({ address: own.address, namespace: uniqueNamespace("frozen"), ...FAST_RECOVERY });
  });

  afterAll(async () => {
    own?.resume();
    try {
      await pattern?.stop();
    } finally {
      await own?.destroy();
    }
  });

  test("writes time out as DEADLINE_EXCEEDED (outcome unknown) within about command_timeout, the breaker opens, and thawing recovers", async () => {
    const { kv } = pattern.clients;
    await kv.set({ key: "k", value: text("before") });
    own.pause();
    try {
      // Connections stay open but nothing answers: only the per-command timeout (500 ms here) ends a call.
      const results = await Promise.all(
        Array.from({ length: 5 }, () => timed(() => kv.set({ key: "k", value: text("during") }, { timeoutMs: CALL_DEADLINE_MS }))),
      );
      for (const r of results) {
        // Sent, no reply: Redis may apply it when it wakes, so it is not UNAVAILABLE (safe to retry).
        expect(r.code).toBe(Code.DEADLINE_EXCEEDED);
        expect(r.message).toContain("outcome is unknown");
        expect(r.ms).toBeLessThan(3_000);
      }
      const open = await timed(() => kv.get({ key: "k" }, { timeoutMs: CALL_DEADLINE_MS }));
      expect(open.code).toBe(Code.UNAVAILABLE);
      expect(open.message).toContain("circuit open");
    } finally {
      own.resume();
    }
    expect(await eventually(async () => (await timed(() => kv.get({ key: "k" }))).ok, 15_000, 100)).toBe(true);
    expect(await eventually(async () => (await timed(() => kv.set({ key: "k", value: text("after") }))).ok, 15_000, 100)).toBe(true);
    expect(str((await kv.get({ key: "k" })).value)).toBe("after");
  }, 60_000);
});

describe("Redis not there when the pattern starts", () => {
  let own: OwnRedis;
  let pattern: RedisPattern;

  beforeAll(async () => {
    own = await startOwnRedis({ started: false });
    pattern = await startRedisPattern({ address: own.address, namespace: uniqueNamespace("late"), ...FAST_RECOVERY });
  });

  afterAll(async () => {
    try {
      await pattern?.stop();
    } finally {
      await own?.destroy();
    }
  });

  test("serves UNAVAILABLE and unhealthy, then connects once Redis answers", async () => {
    const { kv, lifecycle } = pattern.clients;
    const r = await timed(() => kv.set({ key: "k", value: text("v") }, { timeoutMs: CALL_DEADLINE_MS }));
    expect(r.code).toBe(Code.UNAVAILABLE);
    const health = await lifecycle.healthCheck({});
    expect(health.status).toBe(HealthStatus.UNHEALTHY);
    expect(health.message).toMatch(/unreachable/);

    await own.restart();
    expect(await eventually(async () => (await timed(() => kv.set({ key: "k", value: text("v") }))).ok, 15_000, 100)).toBe(true);
    expect(str((await kv.get({ key: "k" })).value)).toBe("v");
  }, 60_000);
});
