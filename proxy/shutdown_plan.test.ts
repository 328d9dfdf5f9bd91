import { describe, expect, test } from "bun:test";
import { planShutdown, within } from "./shutdown_plan";

describe("shutdown plan", () => {
  test("every step ends before the bound, in order, with time left to stop patterns and to exit", () => {
    for (const total of [200, 1_000, 5_000, 30_000, 300_000]) {
      const p = planShutdown(total, 0);
      expect(p.end).toBe(total);
      expect(p.drainUntil).toBeGreaterThanOrEqual(0);
      expect(p.drainUntil).toBeLessThanOrEqual(p.stopUntil);
      expect(p.stopUntil).toBeLessThan(p.end);
    }
    // shutdown_timeout 5 s (below the default drain_timeout of 10 s): drain gets under 3 s, stopping ≥ 1.5 s, exit ≥ 0.75 s.
    expect(planShutdown(5_000, 0)).toEqual({ drainUntil: 2_750, stopUntil: 4_250, end: 5_000 });
    // The default 30 s still leaves the default drain (10 s + 1 s) and the router's 5 s in full.
    expect(planShutdown(30_000, 0).drainUntil).toBeGreaterThanOrEqual(16_000);
  });

  test("within: true when the promise settles (even rejected) in time, false at the bound", async () => {
    expect(await within(Promise.resolve(), 10)).toBe(true);
    expect(await within(Promise.reject(new Error("x")), 10)).toBe(true);
    expect(await within(new Promise(() => {}), 0)).toBe(false);
  });
});
