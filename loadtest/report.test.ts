import { describe, expect, test } from "bun:test";
import { parseFlags } from "./flags";
import { runClosedLoop } from "./closed_loop";
import { runOpenLoop } from "./open_loop";
import { buildReport, formatReport } from "./report";
import { Stats } from "./stats";

const never = new AbortController().signal;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("report", () => {
  test("open loop that fell behind: unsent calls are in the latency, and the report says the percentiles are lower bounds", async () => {
    const opts = parseFlags(["--direct", "127.0.0.1:1", "--rps", "1000", "--concurrency", "1", "--duration", "300ms"])!;
    const s = new Stats();
    // Call 50 hangs 400 ms: ~250 calls due after it are never sent.
    await runOpenLoop((seq) => (seq === 50 ? sleep(400) : Promise.resolve()), s, 1000, 1, { durationMs: 300, requests: 0, signal: never });
    const r = buildReport(opts, s, new Date());
    expect(r.unsent).toBeGreaterThan(200);
    expect(r.latencyMs.count).toBe(r.ok + r.unsent);
    expect(r.unsentLatencyMs!.count).toBe(r.unsent);
    expect(r.latencyMs.p99).toBeGreaterThanOrEqual(200);
    expect(r.serviceTimeMs.count).toBe(r.ok);
    const text = formatReport(r);
    expect(text).toContain(`${r.unsent} of them unsent: lower bounds`);
    expect(text).toContain("the percentiles above are lower bounds");
  });

  test("nothing unsent: no lower-bound note", async () => {
    const opts = parseFlags(["--direct", "127.0.0.1:1", "--rps", "1000", "--requests", "50"])!;
    const s = new Stats();
    await runOpenLoop(() => Promise.resolve(), s, 1000, 8, { durationMs: 0, requests: 50, signal: never });
    const r = buildReport(opts, s, new Date());
    expect(r.unsent).toBe(0);
    expect(r.unsentLatencyMs!.count).toBe(0);
    expect(formatReport(r)).not.toContain("lower bound");
  });

  test("throughput is over the measured window; a slow call in flight at the stop is drain, reported apart (closed loop)", async () => {
    const opts = parseFlags(["--direct", "127.0.0.1:1", "--concurrency", "2", "--duration", "300ms"])!;
    const s = new Stats();
    // One worker's first call takes 700 ms; the other answers every 5 ms until the 300 ms are up.
    await runClosedLoop((seq) => sleep(seq === 0 ? 700 : 5), s, 2, { durationMs: 300, requests: 0, signal: never });
    const r = buildReport(opts, s, new Date());
    expect(r.durationS).toBeGreaterThanOrEqual(0.3);
    expect(r.durationS).toBeLessThan(0.5);
    expect(r.drainS).toBeGreaterThanOrEqual(0.2);
    expect(r.durationS + r.drainS).toBeCloseTo(s.elapsedS(), 5);
    // The slow call completed while draining: in ok, not in the rate.
    expect(r.ok).toBe(r.okInWindow + 1);
    expect(r.throughput).toBeCloseTo(r.okInWindow / r.durationS, 5);
    // Dividing by the whole run, drain included, would understate it by about the drain's share.
    expect(r.throughput).toBeGreaterThan((1.3 * r.ok) / s.elapsedS());
    const text = formatReport(r);
    expect(text).toContain(`measured ${r.durationS.toFixed(2)} s after 1 s warm-up: ${r.ok} ok, 0 errors`);
    expect(text).toContain(`then ${r.drainS.toFixed(2)} s draining the calls in flight (1 ok then`);
  });

  test("open loop: the window ends when the last call is sent, so a slow straggler does not lower the rate", async () => {
    const opts = parseFlags(["--direct", "127.0.0.1:1", "--rps", "200", "--concurrency", "4", "--duration", "300ms"])!;
    const s = new Stats();
    // 60 calls at 200/s over 300 ms; call 10 takes 800 ms, so the run drains ~500 ms after the last send.
    await runOpenLoop((seq) => (seq === 10 ? sleep(800) : Promise.resolve()), s, 200, 4, { durationMs: 300, requests: 0, signal: never });
    const r = buildReport(opts, s, new Date());
    expect(r.ok).toBe(60);
    expect(r.unsent).toBe(0);
    expect(r.drainS).toBeGreaterThanOrEqual(0.3);
    expect(r.durationS).toBeLessThan(0.6);
    // About the scheduled 200/s (a loaded machine sends late, which only stretches the window).
    expect(r.throughput).toBeGreaterThan(100);
    expect(r.throughput).toBeLessThan(220);
    expect(r.throughput).toBeGreaterThan((1.5 * r.ok) / s.elapsedS());
  });
});
