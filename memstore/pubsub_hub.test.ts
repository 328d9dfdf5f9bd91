import { describe, expect, test } from "bun:test";
import type { PubSubMessage } from "../sdk/drivers/interfaces";
import { PubSubHub } from "./pubsub_hub";

const enc = (s: string) => new TextEncoder().encode(s);
const dec = (m: PubSubMessage) => new TextDecoder().decode(m.payload);

function sub(hub: PubSubHub, topic: string, subscriberId: string, signal = new AbortController().signal) {
  return hub.subscribe({ topic, subscriberId, options: {}, signal })[Symbol.asyncIterator]();
}

async function take(it: AsyncIterator<PubSubMessage>, n: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const r = await it.next();
    if (r.done) break;
    out.push(dec(r.value));
  }
  return out;
}

describe("PubSubHub", () => {
  test("every distinct subscriber id gets every message", async () => {
    const hub = new PubSubHub(10);
    const a = sub(hub, "t", "a");
    const b = sub(hub, "t", "b");
    const other = sub(hub, "u", "a");
    for (const m of ["1", "2", "3"]) hub.publish("t", enc(m), { k: "v" }, "");
    expect(await take(a, 3)).toEqual(["1", "2", "3"]);
    expect(await take(b, 3)).toEqual(["1", "2", "3"]);
    hub.publish("u", enc("x"), {}, "");
    expect(await take(other, 1)).toEqual(["x"]);
    expect(hub.stats()).toMatchObject({ topics: 2, subscribers: 3, published: 4, dropped: 0 });
  });

  test("subscribers sharing an id take turns", async () => {
    const hub = new PubSubHub(10);
    const s1 = sub(hub, "t", "group");
    const s2 = sub(hub, "t", "group");
    for (let i = 0; i < 6; i++) hub.publish("t", enc(String(i)), {}, "");
    expect(await take(s1, 3)).toEqual(["0", "2", "4"]);
    expect(await take(s2, 3)).toEqual(["1", "3", "5"]);
  });

  test("a member with a full buffer is passed over while another has room", async () => {
    const hub = new PubSubHub(2);
    const s1 = sub(hub, "t", "g");
    const s2 = sub(hub, "t", "g");
    for (let i = 0; i < 4; i++) hub.publish("t", enc(String(i)), {}, "");
    // Both full now (2 each): nothing was dropped.
    expect(hub.stats().dropped).toBe(0);
    expect(await take(s1, 1)).toEqual(["0"]);
    hub.publish("t", enc("4"), {}, "");
    expect(await take(s1, 2)).toEqual(["2", "4"]);
    expect(await take(s2, 2)).toEqual(["1", "3"]);
  });

  test("a slow subscriber loses its oldest messages, counted per topic", async () => {
    const hub = new PubSubHub(3);
    const slow = sub(hub, "t", "slow");
    for (let i = 0; i < 10; i++) hub.publish("t", enc(String(i)), {}, "");
    expect(await take(slow, 3)).toEqual(["7", "8", "9"]);
    const stats = hub.stats();
    expect(stats.dropped).toBe(7);
    expect(stats.droppedByTopic.get("t")).toBe(7);
  });

  test("unsubscribe ends the group's streams after their buffered messages", async () => {
    const hub = new PubSubHub(10);
    const s1 = sub(hub, "t", "g");
    const s2 = sub(hub, "t", "g");
    const keep = sub(hub, "t", "other");
    hub.publish("t", enc("a"), {}, "");
    expect(hub.unsubscribe("t", "g")).toBe(true);
    expect(hub.unsubscribe("t", "g")).toBe(false);
    expect(hub.unsubscribe("nope", "g")).toBe(false);
    expect(await take(s1, 5)).toEqual(["a"]);
    expect((await s2.next()).done).toBe(true);
    hub.publish("t", enc("b"), {}, "");
    expect(await take(keep, 2)).toEqual(["a", "b"]);
    expect(hub.stats().subscribers).toBe(1);
  });

  test("aborting or breaking out of a subscription leaves the topic", async () => {
    const hub = new PubSubHub(10);
    const ac = new AbortController();
    const s = sub(hub, "t", "a", ac.signal);
    const waiting = s.next();
    ac.abort();
    expect((await waiting).done).toBe(true);
    expect(hub.stats()).toMatchObject({ topics: 0, subscribers: 0 });

    const iterable = hub.subscribe({ topic: "t", subscriberId: "b", options: {}, signal: new AbortController().signal });
    hub.publish("t", enc("x"), {}, "");
    for await (const m of iterable) {
      expect(dec(m)).toBe("x");
      break;
    }
    expect(hub.stats()).toMatchObject({ topics: 0, subscribers: 0 });
  });

  test("publishing to a topic without subscribers keeps nothing; close ends every stream", async () => {
    const hub = new PubSubHub(10);
    const id = hub.publish("empty", enc("x"), {}, "").messageId;
    expect(id).not.toBe("");
    expect(hub.publish("empty", enc("y"), {}, "").messageId).not.toBe(id);
    const s = sub(hub, "t", "a");
    const waiting = s.next();
    hub.close();
    expect((await waiting).done).toBe(true);
  });
});
