/**
 * Large values through KeyValuePattern (issue 20 item 3): StoreStream / RetrieveStream move values past the
 * single-message limit, stored chunked by the SDK's emulation layer. Registered inside the KeyValuePattern
 * conformance suite (keyvalue_pattern.suite.ts), so every target of the matrix runs them on its own client:
 * round trip of a multi-chunk value, Retrieve's refusal past one message, atomic visibility under concurrent
 * overwrites, expected_version and idempotent retries on StoreStream, and the chunk sets reclaimed after
 * overwrite, delete, expiry and an abandoned writer (seen through Scan / Count of the chunk store's own prefix).
 */
import { createHash } from "node:crypto";
import { describe, expect, test } from "bun:test";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { KeyValuePattern, StoreStreamStartSchema } from "../../proto/gen/prism/patterns/keyvalue/keyvalue_pattern_pb";
import { CHUNK_PREFIX } from "../../sdk/emulation/chunked";
import { PrismClientError } from "../../client/src/errors";
import { Code } from "../../sdk/grpc/errors";
import type { ServiceClient } from "../../sdk/grpc/types";
import { text, uniquePrefix, utf8 } from "./target";
import { waitFor } from "../helpers/wait";

const MiB = 1 << 20;
const CLAIMS = `${CHUNK_PREFIX}claims/`;
const DATA = `${CHUNK_PREFIX}data/`;
/** Bytes per StoreStream message the tests send: not a multiple of the stored chunk size, on purpose. */
const PART = 777 * 1024;

/** `size` deterministic pseudo-random bytes for `seed` (xorshift32), so two values never share a stretch. */
export function patternBytes(size: number, seed: number): Uint8Array {
  const out = new Uint8Array(size);
  const words = new Uint32Array(out.buffer, 0, size >> 2);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x >>> 0;
  }
  for (let i = words.length * 4; i < size; i++) out[i] = i & 0xff;
  return out;
}

const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

type Start = MessageInitShape<typeof StoreStreamStartSchema>;

/**
 * StoreStream's messages: the start (with total_size unless `declare` is false), then the value in PART-sized
 * chunks; after `failAfter` bytes the source throws (the client cancels the call).
 */
async function* messages(start: Start, value: Uint8Array, failAfter = Infinity, declare = true) {
  yield { part: { case: "start" as const, value: declare ? { ...start, totalSize: BigInt(value.byteLength) } : start } };
  for (let at = 0; at < value.byteLength; at += PART) {
    if (at >= failAfter) throw new Error("the writer dies half-way");
    yield { part: { case: "chunk" as const, value: value.subarray(at, at + PART) } };
  }
}

export interface LargeValueWant {
  scan: boolean;
  expiration: boolean;
}

/** `targetMetadata`: what the target's calls carry (x-prism-namespace through the proxy), kept when a test adds its own. */
export function runLargeValueTests(
  kv: () => ServiceClient<typeof KeyValuePattern>,
  targetMetadata: () => Record<string, string> | undefined,
  want: LargeValueWant,
): void {
  const store = (start: Start, value: Uint8Array, metadata?: Record<string, string>) =>
    kv().storeStream(messages(start, value), metadata ? { metadata: { ...targetMetadata(), ...metadata } } : undefined);

  /** RetrieveStream: its header and the value's bytes. */
  const read = async (key: string) => {
    let header: { found: boolean; version: string; totalSize: bigint } | undefined;
    const parts: Uint8Array[] = [];
    for await (const m of kv().retrieveStream({ key })) {
      if (m.part.case === "header") header = m.part.value;
      else if (m.part.case === "chunk") parts.push(m.part.value);
    }
    return { header: header!, bytes: Buffer.concat(parts) };
  };

  const failure = async (call: () => Promise<unknown>) => {
    try {
      await call();
      return { code: Code.OK, message: "", current: undefined as string | undefined };
    } catch (err) {
      // PrismClientError.from reads the trailers of a stub's error and of the client library's alike.
      const e = PrismClientError.from(err);
      return { code: e.code, message: e.message, current: e.currentVersion };
    }
  };

  /** The chunk sets (generations) whose claim names a key under p. */
  const chunkSetsOf = async (p: string): Promise<string[]> => {
    const gens: string[] = [];
    for await (const page of kv().scan({ prefix: CLAIMS, includeValues: true }))
      page.keys.forEach((k, i) => {
        if ((JSON.parse(text(page.values[i]!)) as { key: string }).key.startsWith(p)) gens.push(k.slice(CLAIMS.length));
      });
    return gens.sort();
  };
  const chunksOf = async (gen: string) => Number((await kv().count({ prefix: `${DATA}${gen}/` })).count);

  describe("large values (StoreStream / RetrieveStream)", () => {
    test("capabilities: chunked values, the stream limit in max_value_size, the message limit beside it", async () => {
      const caps = await kv().getCapabilities({});
      expect(caps.supportsChunkedValues).toBe(true);
      expect(caps.maxValueSize > caps.maxMessageValueSize).toBe(true);
    });

    test("a 24 MiB value round-trips in chunks; Retrieve past one message is RESOURCE_EXHAUSTED, below it whole; scans show the key only", async () => {
      const p = uniquePrefix("kvp-large");
      const big = patternBytes(24 * MiB + 123, 1);
      const r = await store({ key: p + "big" }, big);
      expect(r.success).toBe(true);
      const got = await read(p + "big");
      expect(got.header).toMatchObject({ found: true, version: r.version, totalSize: BigInt(big.byteLength) });
      expect(got.bytes.byteLength).toBe(big.byteLength);
      expect(sha(got.bytes)).toBe(sha(big));

      const unary = await failure(() => kv().retrieve({ key: p + "big" }));
      expect(unary.code).toBe(Code.RESOURCE_EXHAUSTED);
      expect(unary.message).toContain("RetrieveStream");
      expect((await kv().exists({ key: p + "big" })).exists).toBe(true);

      // Chunked but within one message: Retrieve reads it whole; a small one is an ordinary value.
      const mid = patternBytes(3 * MiB, 2);
      await store({ key: p + "mid" }, mid);
      expect(sha((await kv().retrieve({ key: p + "mid" })).value)).toBe(sha(mid));
      await store({ key: p + "small" }, utf8("tiny"));
      expect(text((await kv().retrieve({ key: p + "small" })).value)).toBe("tiny");
      expect(await read(p + "small")).toMatchObject({ header: { found: true, totalSize: 4n } });
      expect((await read(p + "missing")).header.found).toBe(false);

      if (want.scan) {
        const keys = (await Array.fromAsync(kv().scan({ prefix: p }))).flatMap((pg) => pg.keys);
        expect(keys.sort()).toEqual([p + "big", p + "mid", p + "small"]);
        expect((await kv().count({ prefix: p })).count).toBe(3n);
        expect((await chunkSetsOf(p)).length).toBe(2);
      }
      // total_size is required (the end of a request stream alone does not prove the writer finished).
      const undeclared = await failure(() => kv().storeStream(messages({ key: p + "undeclared" }, utf8("x"), Infinity, false)));
      expect(undeclared).toMatchObject({ code: Code.INVALID_ARGUMENT, message: expect.stringContaining("total_size") });
      // The chunk store's keys are not the client's to write.
      expect((await failure(() => kv().store({ key: `${CLAIMS}x`, value: utf8("x") }))).code).toBe(Code.INVALID_ARGUMENT);
    }, 120_000);

    test("atomic visibility: readers racing overwrites read one whole value, never a mix", async () => {
      const key = uniquePrefix("kvp-atomic") + "k";
      const values = [1, 2, 3, 4, 5].map((s) => patternBytes(4 * MiB + s, 10 + s));
      const known = new Set(values.map(sha));
      await store({ key }, values[0]!);
      let writing = true;
      const writers = (async () => {
        try {
          for (const v of values.slice(1)) await store({ key }, v);
        } finally {
          writing = false;
        }
      })();
      const reads: string[] = [];
      const reader = async () => {
        while (writing || reads.length < 4) {
          const r = await read(key);
          expect(Number(r.header.totalSize)).toBe(r.bytes.byteLength);
          reads.push(sha(r.bytes));
        }
      };
      await Promise.all([writers, reader(), reader()]);
      expect(reads.every((h) => known.has(h))).toBe(true);
      expect(sha((await read(key)).bytes)).toBe(sha(values[4]!));
    }, 120_000);

    test("expected_version on StoreStream: ABORTED with the current version on mismatch, applied on a match", async () => {
      const key = uniquePrefix("kvp-large-cas") + "k";
      const a = patternBytes(2 * MiB, 21);
      const b = patternBytes(2 * MiB + 1, 22);
      const v1 = (await store({ key, expectedVersion: "" }, a)).version;
      expect(await failure(() => store({ key, expectedVersion: "" }, b))).toMatchObject({ code: Code.ABORTED, current: v1 });
      expect(await failure(() => store({ key, expectedVersion: `${v1}x` }, b))).toMatchObject({ code: Code.ABORTED, current: v1 });
      expect(sha((await read(key)).bytes)).toBe(sha(a));
      const v2 = (await store({ key, expectedVersion: v1 }, b)).version;
      expect(v2).not.toBe(v1);
      const r = await read(key);
      expect([r.header.version, sha(r.bytes)]).toEqual([v2, sha(b)]);
    }, 60_000);

    test("a StoreStream retried with the same x-prism-idempotency-key is applied once", async () => {
      const key = uniquePrefix("kvp-large-idem") + "k";
      const idem = { "x-prism-idempotency-key": `${key}-once` };
      const a = patternBytes(2 * MiB, 31);
      expect((await store({ key }, a, idem)).success).toBe(true);
      await kv().store({ key, value: utf8("written in between") });
      // The retry answers success without writing again: the write in between stays.
      expect((await store({ key }, a, idem)).success).toBe(true);
      expect(text((await kv().retrieve({ key })).value)).toBe("written in between");
    }, 60_000);

    test("chunk sets are reclaimed after overwrite, delete, expiry and a writer that dies half-way", async () => {
      // Without a scan the chunk store cannot be looked at from outside (sdk/emulation/chunked.test.ts covers it).
      expect((await kv().getCapabilities({})).supportsScan).toBe(want.scan);
      if (!want.scan) return;
      const p = uniquePrefix("kvp-large-gc");
      const v = (seed: number) => patternBytes(2 * MiB + seed, 40 + seed);
      await store({ key: p + "over" }, v(1));
      const [overwritten] = await chunkSetsOf(p + "over");
      await store({ key: p + "over" }, v(2));
      await store({ key: p + "del" }, v(3));
      const [deleted] = await chunkSetsOf(p + "del");
      await kv().delete({ key: p + "del" });
      let expired: string | undefined;
      if (want.expiration) {
        await store({ key: p + "exp", expirationSeconds: 1n }, v(4));
        [expired] = await chunkSetsOf(p + "exp");
      }
      // Writers that stop half-way: one cancelled, one whose stream ends short of its total_size.
      expect((await failure(() => kv().storeStream(messages({ key: p + "died" }, v(5), 2 * PART)))).code).toBe(Code.CANCELLED);
      const short = await failure(() => kv().storeStream(messages({ key: p + "short", totalSize: BigInt(3 * MiB) }, v(7), Infinity, false)));
      expect(short).toMatchObject({ code: Code.INVALID_ARGUMENT, message: expect.stringContaining("total_size") });
      for (const k of ["died", "short"]) expect((await read(p + k)).header.found).toBe(false);
      expect(overwritten && deleted && (expired || !want.expiration)).toBeTruthy();

      const kept = (await chunkSetsOf(p + "over")).find((g) => g !== overwritten);
      const gone = [overwritten!, deleted!, ...(expired ? [expired] : [])];
      await waitFor(
        async () => {
          const sets = await chunkSetsOf(p);
          if (sets.length !== 1 || sets[0] !== kept) return false;
          for (const g of gone) if ((await chunksOf(g)) !== 0) return false;
          return true;
        },
        "every chunk set but the live one's reclaimed",
        { timeoutMs: 45_000, intervalMs: 250 },
      );
      expect(sha((await read(p + "over")).bytes)).toBe(sha(v(2)));
      expect(await chunksOf(kept!)).toBe(5);
    }, 90_000);
  });
}
