import { expect, test } from "bun:test";
import { Wakers } from "./wakers";

test("a wake of its key ends a poller's pause at once; other keys and closed pollers are left alone", async () => {
  const w = new Wakers();
  const ac = new AbortController();
  const a = w.poller("a");
  const b = w.poller("b");
  let bDone = false;
  const t0 = performance.now();
  const sleepingA = a.sleep(60_000, ac.signal);
  const sleepingB = b.sleep(60_000, ac.signal).then(() => (bDone = true));
  w.wake("a");
  await sleepingA;
  expect(performance.now() - t0).toBeLessThan(5_000);
  await Promise.resolve();
  expect(bDone).toBe(false);
  b.close();
  w.wake("b");
  await Promise.resolve();
  expect(bDone).toBe(false);
  ac.abort();
  await sleepingB;
  a.close();
});

test("the pause ends by itself after its time, and at once on an aborted signal", async () => {
  const p = new Wakers().poller("k");
  await p.sleep(5, new AbortController().signal);
  const ac = new AbortController();
  ac.abort();
  await p.sleep(60_000, ac.signal);
  p.close();
});
