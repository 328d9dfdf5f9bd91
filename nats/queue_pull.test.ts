import { expect, test } from "bun:test";
import type { Msg, NatsConnection } from "nats";
import { pullExpiry } from "./queue";
import { pull } from "./queue_pull";

/** A connection stand-in: the test plays the server, sending to the pull's inbox by hand. */
function fakeConnection() {
  const state = { callback: undefined as ((err: Error | null, msg: Msg) => void) | undefined, unsubscribed: false, requests: 0 };
  const nc = {
    subscribe: (subject: string, opts: { callback: (err: Error | null, msg: Msg) => void }) => {
      state.callback = opts.callback;
      return { getSubject: () => subject, unsubscribe: () => void (state.unsubscribed = true) };
    },
    publish: () => void state.requests++,
  } as unknown as NatsConnection;
  const responses: string[] = [];
  const deliver = (seq: number) =>
    state.callback!(null, {
      reply: `$JS.ACK.S.C.1.${seq}.${seq}.1700000000000000000.0`,
      data: new Uint8Array(0),
      respond: (d: Uint8Array) => responses.push(`${seq} ${new TextDecoder().decode(d)}`),
    } as unknown as Msg);
  return { nc, state, deliver, responses };
}

test("a pull whose 408 never comes ends by itself, and what the server still sends it is nacked, not dropped", async () => {
  const { nc, state, deliver, responses } = fakeConnection();
  const it = pull(nc, "S", "C", 10, 20, new AbortController().signal);
  const first = it.next();
  deliver(1);
  expect((await first).value?.reply).toContain(".1.1.");
  // No status from the "server": the pull ends past its expiry without one.
  expect((await it.next()).done).toBe(true);
  expect(state.requests).toBe(1);
  // A message the server sends to the request afterwards goes back at once (it would otherwise wait out AckWait).
  deliver(2);
  expect(responses).toEqual(["2 -NAK"]);
  expect(state.unsubscribed).toBe(false);
});

test("a pull the server ends (408) unsubscribes at once", async () => {
  const { nc, state } = fakeConnection();
  const it = pull(nc, "S", "C", 10, 60_000, new AbortController().signal);
  const next = it.next();
  state.callback!(null, { reply: "", headers: { code: 408 } } as unknown as Msg);
  expect((await next).done).toBe(true);
  expect(state.unsubscribed).toBe(true);
});

test("pulls expire 1 s ± 25 % apart, so the pulls of a group's consumers do not all end together", () => {
  expect([pullExpiry(() => 0), pullExpiry(() => 0.5), pullExpiry(() => 0.999999)]).toEqual([750, 1000, 1250]);
  expect(new Set(Array.from({ length: 20 }, () => pullExpiry())).size).toBeGreaterThan(1);
});
