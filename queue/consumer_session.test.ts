import { expect, test } from "bun:test";
import { ConsumerSession } from "./consumer_session";

test("room shrinks with deliveries and grows back on release or an expired deadline", () => {
  let now = 0;
  const s = new ConsumerSession("s", "t", "g", 2, 100, () => now);
  s.track("a");
  now = 10;
  s.track("b");
  expect(s.room()).toBe(0);
  expect(s.release("a")).toBe(true);
  expect(s.release("a")).toBe(false);
  expect(s.room()).toBe(1);
  now = 111;
  expect(s.room()).toBe(2);
  expect(s.drain()).toEqual([]);
});

test("waitForRoom resolves on a release and on abort", async () => {
  const s = new ConsumerSession("s", "t", "g", 1, 60_000);
  s.track("a");
  const ac = new AbortController();
  const waiting = s.waitForRoom(ac.signal);
  s.release("a");
  await waiting;
  s.track("b");
  const aborted = s.waitForRoom(ac.signal);
  ac.abort();
  await aborted;
  expect(s.drain()).toEqual(["b"]);
});
