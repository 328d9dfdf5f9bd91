import { describe, expect, test } from "bun:test";
import { parseFlags } from "./flags";
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
});
