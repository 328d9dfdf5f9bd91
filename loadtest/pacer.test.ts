import { expect, test } from "bun:test";
import { startPacer } from "./pacer";

test("ticks at about the interval until stopped, then never again", async () => {
  let ticks = 0;
  const start = performance.now();
  const pacer = startPacer(start, 5, () => ticks++);
  await Bun.sleep(200);
  pacer.stop();
  const atStop = ticks;
  // One per 5 ms due by the stop; coalescing and a loaded machine may deliver fewer, never a flood.
  expect(atStop).toBeGreaterThan(5);
  expect(atStop).toBeLessThanOrEqual(Math.floor((performance.now() - start) / 5));
  await Bun.sleep(50);
  expect(ticks).toBe(atStop);
  pacer.stop(); // idempotent
});

test("a tick never runs before its due time, though the worker wakes the thread early", async () => {
  const start = performance.now() + 20;
  const times: number[] = [];
  const pacer = startPacer(start, 2, () => times.push(performance.now()), 1);
  await Bun.sleep(150);
  pacer.stop();
  expect(times.length).toBeGreaterThan(5);
  // The i-th tick (1-based) is for due time start + k·2 with k ≥ i (coalescing only skips ahead).
  times.forEach((t, i) => expect(t).toBeGreaterThanOrEqual(start + (i + 1) * 2));
});
