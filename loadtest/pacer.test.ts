import { expect, test } from "bun:test";
import { startPacer } from "./pacer";

test("ticks at about the interval until stopped, then never again", async () => {
  let ticks = 0;
  const pacer = startPacer(performance.now(), 5, () => ticks++);
  await Bun.sleep(200);
  pacer.stop();
  const atStop = ticks;
  // ~40 due in 200 ms; coalescing and a loaded machine may deliver fewer, never a flood.
  expect(atStop).toBeGreaterThan(5);
  expect(atStop).toBeLessThanOrEqual(41);
  await Bun.sleep(50);
  expect(ticks).toBe(atStop);
  pacer.stop(); // idempotent
});
