import { describe, expect, test } from "bun:test";
import { Code, PrismError } from "../errors";
import { ChunkedValues, chunkKey, claimKey, decodeManifest, encodeManifest } from "./chunked";
import { waitFor } from "../../tests/helpers/wait";
import { VersionedDriver } from "./test_support";

const GRACE = 1_000;

function setup() {
  let t = 1_000_000;
  const d = new VersionedDriver();
  const chunked = new ChunkedValues(d, (prefix, signal) => d.listKeys(prefix, signal), {
    chunkBytes: 4,
    graceMs: GRACE,
    sweepIntervalMs: 0,
    maxMessageValueBytes: () => 10,
    maxStreamValueBytes: () => 1_000,
    now: () => t,
  });
  return { d, chunked, advance: (ms: number) => (t += ms), now: () => t };
}

async function* parts(...s: string[]) {
  for (const p of s) yield new TextEncoder().encode(p);
}
const write = (totalSize: number) => ({ ttlSeconds: 0, expected: undefined, totalSize });
const text = (b: Uint8Array) => new TextDecoder().decode(b);
const chunkSets = (d: VersionedDriver) => [...d.data.keys()].filter((k) => k.includes("prism-chunks/claims/")).length;

async function readAll(chunked: ChunkedValues, key: string): Promise<string> {
  const r = await chunked.retrieve(key);
  let out = "";
  for await (const c of r!.chunks) out += text(c);
  return out;
}

describe("chunked values", () => {
  test("a value past one chunk is chunks plus a manifest; one that fits is an ordinary record", async () => {
    const { d, chunked } = setup();
    await chunked.store("big", parts("abc", "defghij"), write(10));
    expect(decodeManifest(d.data.get("big")!)).toMatchObject({ size: 10, chunks: 3 });
    expect(await readAll(chunked, "big")).toBe("abcdefghij");
    await chunked.store("small", parts("ab", "c"), write(3));
    expect(text(d.data.get("small")!)).toBe("abc");
    // Read whole up to the message limit (10), refused past it.
    expect(text(await chunked.resolve("big", d.data.get("big")!))).toBe("abcdefghij");
    await chunked.store("huge", parts("0123456789x"), write(11));
    const err = await chunked.resolve("huge", d.data.get("huge")!).catch((e) => e as PrismError);
    expect([(err as PrismError).code, (err as PrismError).message]).toEqual([Code.RESOURCE_EXHAUSTED, expect.stringContaining("RetrieveStream")]);
  });

  test("a stream short of or past its total_size stores nothing and leaves no chunks", async () => {
    const { d, chunked } = setup();
    for (const [total, got] of [
      [20, ["abcdefgh"]],
      [5, ["abcdefgh"]],
    ] as const) {
      const err = await chunked.store("k", parts(...got), write(total)).catch((e) => e as PrismError);
      expect((err as PrismError).code).toBe(Code.INVALID_ARGUMENT);
    }
    expect(d.data.size).toBe(0);
  });

  test("a writer that died half-way is reclaimed once its claim is older than the grace, not before", async () => {
    const { d, chunked, advance, now } = setup();
    // What a writer leaves when its process dies between chunks: a claim and some chunks, no manifest.
    const gen = `${now().toString(36).padStart(9, "0")}-dead`;
    await d.set(claimKey(gen), new TextEncoder().encode(JSON.stringify({ key: "k", touchedAt: now() })), 0);
    await d.set(chunkKey(gen, 0), new Uint8Array(4), 0);
    await d.set(chunkKey(gen, 1), new Uint8Array(4), 0);
    advance(GRACE - 1);
    expect(await chunked.sweep()).toBe(0);
    advance(2);
    expect(await chunked.sweep()).toBe(1);
    expect(d.data.size).toBe(0);
  });

  test("overwrite, delete: the old chunk sets go after the grace; the live one stays", async () => {
    const { d, chunked, advance } = setup();
    await chunked.store("k", parts("aaaaaaaaa"), write(9));
    await chunked.store("k", parts("bbbbbbbbb"), write(9));
    await chunked.store("gone", parts("ccccccccc"), write(9));
    await d.delete("gone");
    expect(chunkSets(d)).toBe(3);
    expect(await chunked.sweep()).toBe(0);
    advance(GRACE + 1);
    expect(await chunked.sweep()).toBe(2);
    expect(chunkSets(d)).toBe(1);
    expect(await readAll(chunked, "k")).toBe("bbbbbbbbb");
    advance(GRACE + 1);
    expect(await chunked.sweep()).toBe(0);
  });

  test("a reader keeps the set it reads: an overwrite during the read does not take it away", async () => {
    const { chunked, advance } = setup();
    await chunked.store("k", parts("aaaaaaaaa"), write(9));
    advance(GRACE * 10);
    const r = await chunked.retrieve("k");
    const it = r!.chunks[Symbol.asyncIterator]();
    expect(text((await it.next()).value!)).toBe("aaaa");
    await chunked.store("k", parts("bbbbbbbbb"), write(9));
    // The read touched the old set's claim just now: the sweep leaves it.
    expect(await chunked.sweep()).toBe(0);
    let rest = "";
    for (let n = await it.next(); !n.done; n = await it.next()) rest += text(n.value);
    expect(rest).toBe("aaaaa");
    advance(GRACE + 1);
    expect(await chunked.sweep()).toBe(1);
  });

  test("sweeps back off while they find no chunk set, and come back to their interval when one is written", async () => {
    const d = new VersionedDriver();
    let lists = 0;
    const chunked = new ChunkedValues(
      d,
      (prefix, signal) => {
        lists++;
        return d.listKeys(prefix, signal);
      },
      { chunkBytes: 4, graceMs: GRACE, sweepIntervalMs: 5, maxMessageValueBytes: () => 10, maxStreamValueBytes: () => 100 },
    );
    try {
      // Two listings per sweep; at a fixed 5 ms interval 300 ms would hold ~60 sweeps, backing off at most 7.
      await Bun.sleep(300);
      expect(lists / 2).toBeLessThanOrEqual(8);
      await chunked.store("k", parts("abcdefgh"), write(8));
      const before = lists;
      await waitFor(async () => lists >= before + 6, "three sweeps at the base interval after a chunk set was written", { timeoutMs: 5_000, intervalMs: 5 });
    } finally {
      chunked.close();
    }
  });

  test("a manifest-looking value that does not parse is an ordinary value", () => {
    const m = encodeManifest({ gen: "g", size: 1, chunks: 1 });
    expect(decodeManifest(m)).toEqual({ gen: "g", size: 1, chunks: 1 });
    expect(decodeManifest(m.subarray(0, m.length - 1))).toBeUndefined();
  });
});
