import { expect, test } from "bun:test";
import type { StreamAppend, StreamDriver, StreamPlace } from "./interfaces";
import { appendBatch } from "./stream_batch";

/** A driver with single appends only, recording the order of appends and how many were in flight at once. */
function singleAppends(failKey?: string) {
  const stored: string[] = [];
  const inFlight = new Set<string>();
  let overlapOfOneKey = false;
  const driver = {
    async append(_s: string, payload: Uint8Array, _m: Record<string, string>, key: string): Promise<StreamPlace> {
      if (inFlight.has(key)) overlapOfOneKey = true;
      inFlight.add(key);
      await Bun.sleep(Math.random() * 3);
      inFlight.delete(key);
      if (key === failKey) throw new Error("down");
      stored.push(new TextDecoder().decode(payload));
      return { offset: stored.length - 1, partition: 0, timestamp: 1 };
    },
    read: () => (async function* () {})(),
    trim: () => 0,
  } as StreamDriver;
  return { driver, stored, overlap: () => overlapOfOneKey };
}

const rec = (key: string, v: string): StreamAppend => ({ payload: new TextEncoder().encode(v), metadata: {}, key });

test("emulated: every record stored, places in the order given, one key never twice in flight and in order", async () => {
  const s = singleAppends();
  const records = [rec("a", "a1"), rec("b", "b1"), rec("a", "a2"), rec("c", "c1"), rec("a", "a3"), rec("b", "b2")];
  const places = await appendBatch(s.driver, "s", records);
  expect(places).toHaveLength(6);
  for (let i = 0; i < 6; i++) expect(s.stored[places[i]!.offset]).toBe(new TextDecoder().decode(records[i]!.payload));
  expect(s.stored.filter((v) => v.startsWith("a"))).toEqual(["a1", "a2", "a3"]);
  expect(s.stored.filter((v) => v.startsWith("b"))).toEqual(["b1", "b2"]);
  expect(s.overlap()).toBe(false);
});

test("emulated: a failed record rejects the batch", async () => {
  const s = singleAppends("b");
  await expect(appendBatch(s.driver, "s", [rec("a", "a1"), rec("b", "b1")])).rejects.toThrow("down");
});

test("a driver's own appendBatch is used when it has one", async () => {
  const s = singleAppends();
  let calls = 0;
  const native = Object.assign(Object.create(s.driver), {
    appendBatch: async (_s: string, r: readonly StreamAppend[]) => {
      calls++;
      return r.map((_, i) => ({ offset: i, partition: 0, timestamp: 0 }));
    },
  }) as StreamDriver;
  expect(await appendBatch(native, "s", [rec("a", "1"), rec("a", "2")])).toHaveLength(2);
  expect(calls).toBe(1);
  expect(s.stored).toEqual([]);
  expect(await appendBatch(native, "s", [])).toEqual([]);
});
