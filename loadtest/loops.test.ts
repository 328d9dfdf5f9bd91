import { describe, expect, test } from "bun:test";
import { runClosedLoop } from "./closed_loop";
import { runOpenLoop } from "./open_loop";
import { Stats } from "./stats";
import type { Issue } from "./workload";

const never = new AbortController().signal;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A server that answers at once, except that call `stallAt` takes stallMs. */
function stallingServer(stallAt: number, stallMs: number): Issue {
  return (seq) => (seq === stallAt ? sleep(stallMs) : Promise.resolve());
}

const ms = (us: number) => us / 1000;

describe("closed loop", () => {
  test("stops after --requests and records every call", async () => {
    const s = new Stats();
    let calls = 0;
    await runClosedLoop(async () => void calls++, s, 4, { durationMs: 0, requests: 250, signal: never });
    expect(calls).toBe(250);
    expect(s.ok).toBe(250);
  });

  test("stops at the duration", async () => {
    const s = new Stats();
    await runClosedLoop(() => sleep(1), s, 2, { durationMs: 200, requests: 0, signal: never });
    expect(s.elapsedS()).toBeGreaterThanOrEqual(0.19);
    expect(s.elapsedS()).toBeLessThan(2);
    expect(s.ok).toBeGreaterThan(10);
  });

  test("hides a stall in one sample (why --rps exists)", async () => {
    const s = new Stats();
    await runClosedLoop(stallingServer(20, 200), s, 1, { durationMs: 0, requests: 300, signal: never });
    // One sample shows the 200 ms stall; the 99th percentile does not.
    expect(ms(s.latency.maxValue)).toBeGreaterThanOrEqual(190);
    expect(ms(s.latency.getValueAtPercentile(99))).toBeLessThan(50);
  });
});

describe("open loop", () => {
  test("a stall delays every call scheduled during it: coordinated omission corrected", async () => {
    // 1000 req/s, one call in flight: call 20 stalls 200 ms, so ~200 calls scheduled meanwhile wait.
    const s = new Stats();
    await runOpenLoop(stallingServer(20, 200), s, 1000, 1, { durationMs: 0, requests: 400, signal: never });
    expect(s.ok).toBe(400);
    // Those queued behind the stall are measured from their scheduled time: ~100 of 400 exceed 100 ms.
    expect(ms(s.latency.getValueAtPercentile(90))).toBeGreaterThanOrEqual(100);
    // Their service time (send → reply) is short: only one call was itself slow.
    expect(ms(s.serviceTime.maxValue)).toBeGreaterThanOrEqual(190);
    expect(ms(s.serviceTime.getValueAtPercentile(99))).toBeLessThan(50);
  });

  test("paces sends at the requested rate", async () => {
    const s = new Stats();
    const t0 = performance.now();
    await runOpenLoop(() => Promise.resolve(), s, 500, 8, { durationMs: 0, requests: 200, signal: never });
    const took = performance.now() - t0;
    // 200 calls at 500/s are scheduled over 398 ms; a loaded machine may run late, never early.
    expect(took).toBeGreaterThanOrEqual(390);
    expect(took).toBeLessThan(3000);
    expect(s.ok).toBe(200);
  });

  test("counts calls it could not send before the end as unsent", async () => {
    const s = new Stats();
    // Each call takes 50 ms with one slot: ~6 of the 150 due in 300 ms can be sent.
    await runOpenLoop(() => sleep(50), s, 500, 1, { durationMs: 300, requests: 0, signal: never });
    expect(s.ok).toBeLessThan(20);
    expect(s.unsent).toBeGreaterThan(100);
    expect(s.ok + s.unsent).toBeLessThanOrEqual(151);
    // Unsent calls are in the latency (as lower bounds), never in the service time.
    expect(s.latency.totalCount).toBe(s.ok + s.unsent);
    expect(s.unsentLatency.totalCount).toBe(s.unsent);
    expect(s.serviceTime.totalCount).toBe(s.ok);
  });

  test("calls due before the end that the generator itself sends late are sent, not counted unsent", async () => {
    // 100 req/s for 200 ms (20 calls), 8 slots. Call 12 blocks the generator's own thread past the end, so
    // the calls due meanwhile (13-19) are all overdue when it next runs, at or after the end; no slot was ever
    // short.
    const s = new Stats();
    const issue: Issue = (seq) => {
      if (seq === 12) {
        const until = performance.now() + 150;
        while (performance.now() < until) {
          // the generator's thread is busy (a collection, another process on the core)
        }
      }
      return Promise.resolve();
    };
    await runOpenLoop(issue, s, 100, 8, { durationMs: 200, requests: 0, signal: never });
    expect(s.unsent).toBe(0);
    expect(s.ok).toBe(20);
    // They are measured from their scheduled time: the late ones carry the generator's lag.
    expect(ms(s.latency.maxValue)).toBeGreaterThanOrEqual(50);
    expect(ms(s.sendLag.maxValue)).toBeGreaterThanOrEqual(50);
  });

  test("a target that falls behind the schedule: the backlog it never got shows in the p99", async () => {
    // 1000 req/s, one slot, 300 ms: call 100 hangs 400 ms, so the ~200 calls due after it are never sent.
    const s = new Stats();
    const t0 = performance.now();
    await runOpenLoop(stallingServer(100, 400), s, 1000, 1, { durationMs: 300, requests: 0, signal: never });
    const stoppedBy = performance.now() - t0;
    expect(s.ok).toBeLessThanOrEqual(101);
    expect(s.unsent).toBeGreaterThan(150);
    expect(s.latency.totalCount).toBe(s.ok + s.unsent);
    // Without them, 100 of the 101 samples are fast and the p99 is one of those. With them (stop − scheduled,
    // ~0..200 ms), the p90 and p99 show the backlog.
    expect(ms(s.latency.getValueAtPercentile(90))).toBeGreaterThanOrEqual(100);
    expect(ms(s.latency.getValueAtPercentile(99))).toBeGreaterThanOrEqual(150);
    // Lower bounds: none exceeds the time from the start to the stop.
    expect(ms(s.unsentLatency.maxValue)).toBeGreaterThanOrEqual(150);
    expect(ms(s.unsentLatency.maxValue)).toBeLessThanOrEqual(stoppedBy);
  });

  test("stops on abort and waits for calls in flight", async () => {
    const s = new Stats();
    const abort = new AbortController();
    setTimeout(() => abort.abort(), 100);
    let inFlight = 0;
    await runOpenLoop(
      async () => {
        inFlight++;
        await sleep(20);
        inFlight--;
      },
      s,
      200,
      4,
      { durationMs: 10_000, requests: 0, signal: abort.signal },
    );
    expect(inFlight).toBe(0);
    expect(s.elapsedS()).toBeLessThan(2);
  });

  test("failures are counted, not recorded as latency", async () => {
    const s = new Stats();
    await runOpenLoop((seq) => (seq % 2 ? Promise.reject(new Error("x")) : Promise.resolve()), s, 1000, 4, { durationMs: 0, requests: 100, signal: never });
    expect(s.ok).toBe(50);
    expect(s.errors.get("INTERNAL")).toBe(50);
    expect(s.latency.totalCount).toBe(50);
  });
});
