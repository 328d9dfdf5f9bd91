/**
 * The KeyValuePattern conformance suite (MEMO-042): every operation of prism.patterns.keyvalue.KeyValuePattern,
 * the capability answers the target is expected to give, and the same client-visible results whether a feature
 * is native or emulated (so the same tests run against both); an unavailable feature must answer UNIMPLEMENTED
 * naming the operation and the backend. A backend joins with a small runner file:
 *   runKeyValuePatternSuite("postgres", () => postgresTarget(), { backend: "postgres", scan: "native", batch: "native", expiration: "emulated" });
 * Also runSameDataSuite: the interface services and KeyValuePattern in one namespace see the same data.
 * Every test works under its own key prefix, so suites may share a backend. The last argument is the way in
 * (keyvalue_ways_in.ts): the generated stubs by default, or @prism/client, with the same assertions.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { KeyValueBasicInterface } from "../../proto/gen/prism/interfaces/keyvalue/keyvalue_basic_pb";
import { KeyValueBatchInterface } from "../../proto/gen/prism/interfaces/keyvalue/keyvalue_batch_pb";
import { KeyValueScanInterface } from "../../proto/gen/prism/interfaces/keyvalue/keyvalue_scan_pb";
import { KeyValueTTLInterface } from "../../proto/gen/prism/interfaces/keyvalue/keyvalue_ttl_pb";
import { BatchPerformance, ExpirationPerformance, KeyValuePattern, ScanPerformance } from "../../proto/gen/prism/patterns/keyvalue/keyvalue_pattern_pb";
import { Code, PrismError } from "../../sdk/grpc/errors";
import { PrismClientError } from "../../client/src/index";
import { type KeyValueWayIn, viaStubs } from "./keyvalue_ways_in";
import { runLargeValueTests } from "./keyvalue_large.suite";
import { capabilitiesOf, codeOf, connect, eventually, text, uniquePrefix, utf8, type Target } from "./target";

export type Support = "native" | "emulated" | "unavailable";

/** What GetCapabilities must answer for the target (the suite never branches on backend names otherwise). */
export interface ExpectedCapabilities {
  /** Capabilities.slots.primary_backend_type. */
  backend: string;
  scan: Support;
  batch: Support;
  expiration: Support;
  /** Capabilities.max_batch_size (default: the SDK's 10000). */
  maxBatchSize?: number;
}

const SCAN: Record<Support, ScanPerformance> = {
  native: ScanPerformance.SCAN_NATIVE,
  emulated: ScanPerformance.SCAN_EMULATED,
  unavailable: ScanPerformance.SCAN_UNAVAILABLE,
};
const BATCH: Record<Support, BatchPerformance> = {
  native: BatchPerformance.BATCH_NATIVE,
  emulated: BatchPerformance.BATCH_PIPELINE,
  unavailable: BatchPerformance.BATCH_UNAVAILABLE,
};
const EXPIRY: Record<Support, ExpirationPerformance> = {
  native: ExpirationPerformance.EXPIRATION_NATIVE,
  emulated: ExpirationPerformance.EXPIRATION_EMULATED,
  unavailable: ExpirationPerformance.EXPIRATION_UNAVAILABLE,
};

/** The code and message a call ends with. */
async function failure(call: () => Promise<unknown> | AsyncIterable<unknown>): Promise<{ code: number; message: string }> {
  try {
    const r = call();
    if (r && typeof (r as AsyncIterable<unknown>)[Symbol.asyncIterator] === "function") await Array.fromAsync(r as AsyncIterable<unknown>);
    else await r;
    return { code: Code.OK, message: "" };
  } catch (err) {
    const e = PrismError.from(err);
    return { code: e.code, message: e.message };
  }
}

/** Registers the KeyValuePattern conformance tests against the target the factory starts (once, for all tests). */
export function runKeyValuePatternSuite(name: string, target: () => Promise<Target>, want: ExpectedCapabilities, way: KeyValueWayIn = viaStubs): void {
  describe(`KeyValuePattern conformance: ${name}${way.label}`, () => {
    let t: Target;
    let c: Awaited<ReturnType<KeyValueWayIn["open"]>>;
    beforeAll(async () => {
      t = await target();
      c = await way.open(t);
    });
    afterAll(async () => {
      c?.close();
      await t?.close();
    });
    const kv = () => c.kv;
    /** The call must be UNIMPLEMENTED with "<operation> not supported by <backend>: <why>". */
    const expectUnavailable = async (operation: string, call: () => Promise<unknown> | AsyncIterable<unknown>) => {
      const f = await failure(call);
      expect(f.code).toBe(Code.UNIMPLEMENTED);
      expect(f.message).toMatch(new RegExp(`^${operation} not supported by ${want.backend}: .+`));
    };
    const retrieve = async (key: string) => {
      const r = await kv().retrieve({ key });
      if (!r.found) expect(r.value.length).toBe(0);
      return r.found ? text(r.value) : undefined;
    };

    test("GetCapabilities answers what the backend does, its limits and its slot", async () => {
      const caps = await kv().getCapabilities({});
      const limits = capabilitiesOf(t).limits;
      expect({
        scan: caps.scanPerformance,
        batch: caps.batchPerformance,
        expiration: caps.expirationPerformance,
        supports: [caps.supportsScan, caps.supportsBatch, caps.supportsExpiration, caps.supportsTransactions],
      }).toEqual({
        scan: SCAN[want.scan],
        batch: BATCH[want.batch],
        expiration: EXPIRY[want.expiration],
        supports: [want.scan !== "unavailable", want.batch !== "unavailable", want.expiration !== "unavailable", false],
      });
      expect(caps.maxKeySize).toBe(BigInt(limits.maxKeyBytes));
      expect(caps.maxMessageValueSize).toBe(BigInt(limits.maxValueBytes));
      // Chunked values: max_value_size is StoreStream's limit (the SDK's default max_stream_value_size, 4 GiB).
      expect(caps.maxValueSize).toBe(4n * 1024n ** 3n);
      expect(caps.maxBatchSize).toBe(want.maxBatchSize ?? 10_000);
      expect(caps.slots?.primaryBackendType).toBe(want.backend);
      expect(caps.slots?.primaryInterfaces).toContain(KeyValueBasicInterface.typeName);
      expect(caps.slots?.primaryInterfaces.includes(KeyValueScanInterface.typeName)).toBe(want.scan !== "unavailable");
      expect(caps.slots?.primaryInterfaces.includes(KeyValueBatchInterface.typeName)).toBe(want.batch !== "unavailable");
      expect(caps.slots?.primaryInterfaces.includes(KeyValueTTLInterface.typeName)).toBe(want.expiration !== "unavailable");
      expect(caps.slots?.primary?.interfaces.map((i) => i.name).sort()).toEqual(["keyvalue_basic", "keyvalue_batch", "keyvalue_scan", "keyvalue_ttl"]);
      // Asked again, the same answer (computed once at start-up).
      expect(await kv().getCapabilities({})).toEqual(caps);
    });

    test("tags: stored with the value, returned by Retrieve and Scan, dropped by a plain overwrite, where GetCapabilities says so; else refused", async () => {
      const p = uniquePrefix("kvp-tags");
      if (!(await kv().getCapabilities({})).supportsTags) return tagsRefused(p);
      const tags = { tags: { team: "a", tier: "gold" } };
      await kv().store({ key: p + "k", value: utf8("v"), tags });
      expect((await kv().retrieve({ key: p + "k" })).tags?.tags).toEqual(tags.tags);
      if (want.batch !== "unavailable")
        await kv().storeBatch({
          requests: [
            { key: p + "b", value: utf8("w"), tags: { tags: { team: "b" } } },
            { key: p + "c", value: utf8("x") },
          ],
        });
      if (want.scan !== "unavailable") {
        const pages = await Array.fromAsync(kv().scan({ prefix: p, includeValues: true }));
        const got = pages.flatMap((pg) => pg.keys.map((k, i) => [k, pg.tags[i]?.tags ?? {}] as const));
        expect(Object.fromEntries(got)).toEqual({ [p + "b"]: { team: "b" }, [p + "c"]: {}, [p + "k"]: tags.tags });
      }
      await kv().store({ key: p + "k", value: utf8("v2") });
      expect((await kv().retrieve({ key: p + "k" })).tags).toBeUndefined();
    });

    /** Where supports_tags is false: a write carrying tags is UNIMPLEMENTED and writes nothing (never dropped). */
    async function tagsRefused(p: string): Promise<void> {
      const tags = { tags: { team: "a" } };
      const f = await failure(() => kv().store({ key: p + "k", value: utf8("v"), tags }));
      expect(f.code).toBe(Code.UNIMPLEMENTED);
      expect(f.message).toMatch(new RegExp(`^tags not supported by ${want.backend}: `));
      if (want.batch !== "unavailable")
        expect(await codeOf(() => kv().storeBatch({ requests: [{ key: p + "b", value: utf8("v"), tags }] }))).toBe(Code.UNIMPLEMENTED);
      expect(await retrieve(p + "k")).toBeUndefined();
      expect(await retrieve(p + "b")).toBeUndefined();
      // Empty tags are no tags.
      await kv().store({ key: p + "k", value: utf8("v"), tags: { tags: {} } });
      expect(await retrieve(p + "k")).toBe("v");
    }

    runLargeValueTests(kv, () => t.metadata, { scan: want.scan !== "unavailable", expiration: want.expiration !== "unavailable" });

    describe("conditional writes (expected_version)", () => {
      /** The ABORTED answer of a conditional write, with the current version from x-prism-current-version. */
      const aborted = async (call: () => Promise<unknown>) => {
        try {
          await call();
        } catch (err) {
          // PrismClientError.from reads the trailers of a stub's error and of the client library's alike.
          const e = PrismClientError.from(err);
          return { code: e.code, current: e.currentVersion };
        }
        return { code: Code.OK, current: undefined };
      };

      test("Store and Retrieve return a version that changes on every write; a stale or wrong one is ABORTED with the current version", async () => {
        const p = uniquePrefix("kvp-cas");
        expect((await kv().getCapabilities({})).supportsConditionalWrites).toBe(true);
        const v1 = (await kv().store({ key: p + "k", value: utf8("a") })).version;
        expect(v1).not.toBe("");
        expect((await kv().retrieve({ key: p + "k" })).version).toBe(v1);
        const v2 = (await kv().store({ key: p + "k", value: utf8("b") })).version;
        expect(v2).not.toBe(v1);
        expect(await aborted(() => kv().store({ key: p + "k", value: utf8("c"), expectedVersion: v1 }))).toEqual({ code: Code.ABORTED, current: v2 });
        expect(await aborted(() => kv().store({ key: p + "k", value: utf8("c"), expectedVersion: "" }))).toEqual({ code: Code.ABORTED, current: v2 });
        expect(await retrieve(p + "k")).toBe("b");
        const v3 = (await kv().store({ key: p + "k", value: utf8("c"), expectedVersion: v2 })).version;
        expect([v3 !== v2, await retrieve(p + "k")]).toEqual([true, "c"]);

        // "" = must not exist: creates once; a missing key expected at a version is ABORTED with current "".
        expect((await kv().store({ key: p + "new", value: utf8("1"), expectedVersion: "" })).success).toBe(true);
        expect((await aborted(() => kv().store({ key: p + "new", value: utf8("2"), expectedVersion: "" }))).code).toBe(Code.ABORTED);
        expect(await aborted(() => kv().store({ key: p + "missing", value: utf8("x"), expectedVersion: v3 }))).toEqual({ code: Code.ABORTED, current: "" });
        expect(await retrieve(p + "missing")).toBeUndefined();

        expect(await aborted(() => kv().delete({ key: p + "k", expectedVersion: v2 }))).toEqual({ code: Code.ABORTED, current: v3 });
        expect(await retrieve(p + "k")).toBe("c");
        expect(await kv().delete({ key: p + "k", expectedVersion: v3 })).toMatchObject({ found: true });
        expect(await retrieve(p + "k")).toBeUndefined();
        expect(await kv().delete({ key: p + "k", expectedVersion: "" })).toMatchObject({ found: false });
        // A re-created key does not get an old version back.
        const v4 = (await kv().store({ key: p + "k", value: utf8("a") })).version;
        expect(await aborted(() => kv().delete({ key: p + "k", expectedVersion: v3 }))).toEqual({ code: Code.ABORTED, current: v4 });
      });

      test("8 concurrent read-modify-write loops on one key lose no update", async () => {
        const key = uniquePrefix("kvp-rmw") + "counter";
        const WRITERS = 8;
        const EACH = 10;
        let conflicts = 0;
        const loop = async () => {
          for (let done = 0, attempts = 0; done < EACH; ) {
            if (++attempts > 500) throw new Error("no progress after 500 attempts");
            const r = await kv().retrieve({ key });
            const n = r.found ? Number(text(r.value)) : 0;
            try {
              await kv().store({ key, value: utf8(String(n + 1)), expectedVersion: r.found ? r.version : "" });
              done++;
            } catch (err) {
              if (PrismError.from(err).code !== Code.ABORTED) throw err;
              conflicts++;
            }
          }
        };
        await Promise.all(Array.from({ length: WRITERS }, loop));
        expect(await retrieve(key)).toBe(String(WRITERS * EACH));
        // The loops did contend (else the test proves nothing about lost updates).
        expect(conflicts).toBeGreaterThan(0);
      }, 60_000);
    });

    describe("store, retrieve, exists, delete", () => {
      test("store then retrieve; overwrite; a missing key is found=false", async () => {
        const p = uniquePrefix("kvp-basic");
        expect((await kv().store({ key: p + "k", value: utf8("first") })).success).toBe(true);
        expect(await retrieve(p + "k")).toBe("first");
        await kv().store({ key: p + "k", value: utf8("second, longer") });
        expect(await retrieve(p + "k")).toBe("second, longer");
        expect(await retrieve(p + "missing")).toBeUndefined();
      });

      test("binary and empty values round-trip", async () => {
        const p = uniquePrefix("kvp-binary");
        const value = new Uint8Array(512).map((_, i) => (i < 256 ? i : 511 - i));
        await kv().store({ key: p + "bin", value });
        expect([...(await kv().retrieve({ key: p + "bin" })).value]).toEqual([...value]);
        await kv().store({ key: p + "empty", value: new Uint8Array(0) });
        const r = await kv().retrieve({ key: p + "empty" });
        expect([r.found, r.value.length]).toEqual([true, 0]);
        expect((await kv().exists({ key: p + "empty" })).exists).toBe(true);
      });

      test("exists and delete report whether the key was there", async () => {
        const p = uniquePrefix("kvp-delete");
        await kv().store({ key: p + "k", value: utf8("v") });
        expect((await kv().exists({ key: p + "k" })).exists).toBe(true);
        expect(await kv().delete({ key: p + "k" })).toMatchObject({ found: true, success: true });
        expect(await kv().delete({ key: p + "k" })).toMatchObject({ found: false, success: true });
        expect((await kv().exists({ key: p + "k" })).exists).toBe(false);
      });

      test("empty and oversized keys and values, negative expirations are INVALID_ARGUMENT and write nothing", async () => {
        const { maxKeyBytes, maxValueBytes } = capabilitiesOf(t).limits;
        const p = uniquePrefix("kvp-invalid");
        for (const call of [
          () => kv().store({ key: "", value: utf8("v") }),
          () => kv().retrieve({ key: "" }),
          () => kv().delete({ key: "" }),
          () => kv().exists({ key: "" }),
          () => kv().store({ key: p + "k".repeat(maxKeyBytes), value: utf8("v") }),
          () => kv().store({ key: p + "big", value: new Uint8Array(maxValueBytes + 1) }),
          () => kv().store({ key: p + "neg", value: utf8("v"), expirationSeconds: -1n }),
        ]) {
          expect(await codeOf(call)).toBe(Code.INVALID_ARGUMENT);
        }
        expect((await kv().exists({ key: p + "big" })).exists).toBe(false);
        expect((await kv().exists({ key: p + "neg" })).exists).toBe(false);
      });

      test("20 concurrent writers and readers", async () => {
        const p = uniquePrefix("kvp-concurrent");
        await Promise.all(
          Array.from({ length: 20 }, async (_, w) => {
            for (let i = 0; i < 20; i++) {
              const key = `${p}${w}:${i}`;
              await kv().store({ key, value: utf8(key) });
              expect(await retrieve(key)).toBe(key);
            }
          }),
        );
      });
    });

    describe("expiration", () => {
      test("inline expiration: the key disappears from every read; GetExpiration is -1 / -2 / remaining seconds", async () => {
        const p = uniquePrefix("kvp-expire");
        if (want.expiration === "unavailable") {
          await expectUnavailable("expiration", () => kv().store({ key: p + "k", value: utf8("v"), expirationSeconds: 5n }));
          expect((await kv().exists({ key: p + "k" })).exists).toBe(false);
          await expectUnavailable("expiration", () => kv().getExpiration({ key: p + "k" }));
          await expectUnavailable("expiration", () => kv().setExpiration({ key: p + "k", expirationSeconds: 5n }));
          return;
        }
        await kv().store({ key: p + "short", value: utf8("v"), expirationSeconds: 1n });
        await kv().store({ key: p + "long", value: utf8("v"), expirationSeconds: 100n });
        await kv().store({ key: p + "forever", value: utf8("v") });
        const remaining = (await kv().getExpiration({ key: p + "long" })).expirationSeconds;
        expect(remaining).toBeGreaterThan(90n);
        expect(remaining).toBeLessThanOrEqual(100n);
        expect((await kv().getExpiration({ key: p + "forever" })).expirationSeconds).toBe(-1n);
        expect((await kv().getExpiration({ key: p + "missing" })).expirationSeconds).toBe(-2n);
        await eventually(async () => !(await kv().exists({ key: p + "short" })).exists, "the 1 s key expired", 10_000, 100);
        expect(await retrieve(p + "short")).toBeUndefined();
        expect((await kv().getExpiration({ key: p + "short" })).expirationSeconds).toBe(-2n);
        if (want.batch !== "unavailable") {
          const b = await kv().retrieveBatch({ keys: [p + "short", p + "long"] });
          expect(b.results.map((r) => r.found)).toEqual([false, true]);
        }
        if (want.scan !== "unavailable") {
          const pages = await Array.fromAsync(kv().scan({ prefix: p }));
          expect(pages.flatMap((pg) => pg.keys).sort()).toEqual([p + "forever", p + "long"]);
        }
      });

      test("SetExpiration sets, replaces and (with 0) removes an expiry; a missing key is key_existed=false", async () => {
        const p = uniquePrefix("kvp-setexp");
        if (want.expiration === "unavailable") return expectUnavailable("expiration", () => kv().setExpiration({ key: p + "k", expirationSeconds: 0n }));
        await kv().store({ key: p + "k", value: utf8("kept") });
        expect(await kv().setExpiration({ key: p + "k", expirationSeconds: 50n })).toMatchObject({ success: true, keyExisted: true });
        const s = (await kv().getExpiration({ key: p + "k" })).expirationSeconds;
        expect(s > 40n && s <= 50n).toBe(true);
        expect(await kv().setExpiration({ key: p + "k", expirationSeconds: 0n })).toMatchObject({ success: true, keyExisted: true });
        expect((await kv().getExpiration({ key: p + "k" })).expirationSeconds).toBe(-1n);
        expect(await retrieve(p + "k")).toBe("kept");
        expect(await kv().setExpiration({ key: p + "missing", expirationSeconds: 10n })).toMatchObject({ success: true, keyExisted: false });
        expect(await codeOf(() => kv().setExpiration({ key: p + "k", expirationSeconds: -1n }))).toBe(Code.INVALID_ARGUMENT);
        // Overwriting a key without expiration_seconds clears its expiry.
        await kv().store({ key: p + "o", value: utf8("v"), expirationSeconds: 30n });
        await kv().store({ key: p + "o", value: utf8("w") });
        expect((await kv().getExpiration({ key: p + "o" })).expirationSeconds).toBe(-1n);
      });
    });

    describe("scan", () => {
      /** Every key from Scan calls of at most `limit` keys each, following next_cursor across calls. */
      const scanAll = async (prefix: string, limit: number, pageSize: number, includeValues: boolean, between?: () => Promise<void>) => {
        const keys: string[] = [];
        const values: string[] = [];
        let cursor = "";
        for (let calls = 0; calls < 1000; calls++) {
          const pages = await Array.fromAsync(kv().scan({ prefix, cursor, limit, pageSize, includeValues }));
          expect(pages.length).toBeGreaterThan(0);
          for (const pg of pages) {
            expect(pg.keys.length).toBeLessThanOrEqual(pageSize || 100);
            expect(pg.values.length).toBe(includeValues ? pg.keys.length : 0);
            keys.push(...pg.keys);
            values.push(...pg.values.map(text));
          }
          const last = pages.at(-1)!;
          expect(pages.slice(0, -1).every((pg) => pg.hasMore && pg.nextCursor !== "")).toBe(true);
          if (limit > 0) expect(pages.reduce((n, pg) => n + pg.keys.length, 0)).toBeLessThanOrEqual(limit);
          if (!last.hasMore) {
            expect(last.nextCursor).toBe("");
            return { keys, values };
          }
          cursor = last.nextCursor;
          await between?.();
        }
        throw new Error("scan did not end after 1000 calls");
      };

      test("by prefix: every key once, in pages, with values when asked, none from other prefixes", async () => {
        const p = uniquePrefix("kvp-scan");
        if (want.scan === "unavailable") return expectUnavailable("scan", () => kv().scan({ prefix: p }));
        const keys = Array.from({ length: 25 }, (_, i) => `${p}item:${i}`);
        await Promise.all(keys.map((key) => kv().store({ key, value: utf8(`value of ${key}`) })));
        await kv().store({ key: `${p}itex`, value: utf8("sibling") });
        const whole = await scanAll(`${p}item:`, 0, 0, true);
        expect([...whole.keys].sort()).toEqual([...keys].sort());
        whole.keys.forEach((k, i) => expect(whole.values[i]).toBe(`value of ${k}`));
        const paged = await scanAll(`${p}item:`, 0, 4, false);
        expect([...paged.keys].sort()).toEqual([...keys].sort());
        const limited = await scanAll(`${p}item:`, 6, 4, true);
        expect([...limited.keys].sort()).toEqual([...keys].sort());
        const empty = await Array.fromAsync(kv().scan({ prefix: `${p}nothing:` }));
        expect(empty).toHaveLength(1);
        expect(empty[0]).toMatchObject({ keys: [], hasMore: false, nextCursor: "" });
      });

      test("no duplicates and no gaps while keys are added between calls", async () => {
        const p = uniquePrefix("kvp-scan-churn");
        if (want.scan === "unavailable") return expectUnavailable("scan", () => kv().scan({ prefix: p }));
        const keys = Array.from({ length: 30 }, (_, i) => `${p}${String(i).padStart(2, "0")}`);
        await Promise.all(keys.map((key) => kv().store({ key, value: utf8("v") })));
        let added = 0;
        const { keys: seen } = await scanAll(p, 4, 2, false, async () => {
          await kv().store({ key: `${p}${String(added).padStart(2, "0")}+new`, value: utf8("v") });
          await kv().store({ key: `${p}zz${added++}`, value: utf8("v") });
        });
        expect(new Set(seen).size).toBe(seen.length);
        for (const k of keys) expect(seen).toContain(k);
        expect(seen.every((k) => k.startsWith(p))).toBe(true);
      });

      test("Count: the live keys under a prefix, none from other prefixes; expired and deleted keys are not counted", async () => {
        const p = uniquePrefix("kvp-count");
        if (want.scan === "unavailable") return expectUnavailable("scan", () => kv().count({ prefix: p }));
        await Promise.all(Array.from({ length: 7 }, (_, i) => kv().store({ key: `${p}c:${i}`, value: utf8("v") })));
        await kv().store({ key: `${p}d`, value: utf8("other prefix") });
        expect((await kv().count({ prefix: `${p}c:` })).count).toBe(7n);
        expect((await kv().count({ prefix: p })).count).toBe(8n);
        await kv().delete({ key: `${p}c:0` });
        expect((await kv().count({ prefix: `${p}c:` })).count).toBe(6n);
        if (want.expiration !== "unavailable") {
          await kv().store({ key: `${p}c:short`, value: utf8("v"), expirationSeconds: 1n });
          await eventually(async () => (await kv().count({ prefix: `${p}c:` })).count === 6n, "the expired key is no longer counted", 10_000, 200);
        }
        expect((await kv().count({ prefix: `${p}none:` })).count).toBe(0n);
      });

      test("a negative limit or page size is INVALID_ARGUMENT", async () => {
        if (want.scan === "unavailable") return expectUnavailable("scan", () => kv().scan({ prefix: "x", limit: -1 }));
        expect(await codeOf(() => kv().scan({ prefix: "x", limit: -1 }))).toBe(Code.INVALID_ARGUMENT);
        expect(await codeOf(() => kv().scan({ prefix: "x", pageSize: -1 }))).toBe(Code.INVALID_ARGUMENT);
      });
    });

    describe("batch", () => {
      test("StoreBatch, RetrieveBatch, DeleteBatch: results in request order, counts", async () => {
        const p = uniquePrefix("kvp-batch");
        if (want.batch === "unavailable") {
          await expectUnavailable("batch", () => kv().storeBatch({ requests: [{ key: p + "a", value: utf8("1") }] }));
          await expectUnavailable("batch", () => kv().retrieveBatch({ keys: [p + "a"] }));
          await expectUnavailable("batch", () => kv().deleteBatch({ keys: [p + "a"] }));
          expect((await kv().exists({ key: p + "a" })).exists).toBe(false);
          return;
        }
        const stored = await kv().storeBatch({ requests: ["a", "b", "c"].map((k, i) => ({ key: p + k, value: utf8(String(i)) })) });
        expect(stored).toMatchObject({ allSuccess: true, successCount: 3 });
        expect(stored.results.every((r) => r.success)).toBe(true);
        const got = await kv().retrieveBatch({ keys: [p + "c", p + "missing", p + "a"] });
        expect(got.foundCount).toBe(2);
        expect(got.results.map((r) => (r.found ? text(r.value) : null))).toEqual(["2", null, "0"]);
        const del = await kv().deleteBatch({ keys: [p + "a", p + "missing", p + "b"] });
        expect(del.results.map((r) => r.found)).toEqual([true, false, true]);
        expect(del).toMatchObject({ allSuccess: true, foundCount: 2 });
        expect(await retrieve(p + "c")).toBe("2");
        expect(await retrieve(p + "a")).toBeUndefined();
      });

      test("a batch with one invalid entry is INVALID_ARGUMENT and writes nothing", async () => {
        const p = uniquePrefix("kvp-batch-invalid");
        if (want.batch === "unavailable") return expectUnavailable("batch", () => kv().storeBatch({ requests: [{ key: "", value: utf8("1") }] }));
        expect(
          await codeOf(() =>
            kv().storeBatch({
              requests: [
                { key: p + "ok", value: utf8("1") },
                { key: "", value: utf8("2") },
              ],
            }),
          ),
        ).toBe(Code.INVALID_ARGUMENT);
        expect(await codeOf(() => kv().retrieveBatch({ keys: [p + "ok", ""] }))).toBe(Code.INVALID_ARGUMENT);
        expect((await kv().exists({ key: p + "ok" })).exists).toBe(false);
      });

      test("batch entries may carry an expiration", async () => {
        const p = uniquePrefix("kvp-batch-exp");
        const call = () =>
          kv().storeBatch({
            requests: [
              { key: p + "e", value: utf8("1"), expirationSeconds: 60n },
              { key: p + "n", value: utf8("2") },
            ],
          });
        if (want.batch === "unavailable") return expectUnavailable("batch", call);
        if (want.expiration === "unavailable") return expectUnavailable("expiration", call);
        await call();
        const e = (await kv().getExpiration({ key: p + "e" })).expirationSeconds;
        expect(e > 50n && e <= 60n).toBe(true);
        expect((await kv().getExpiration({ key: p + "n" })).expirationSeconds).toBe(-1n);
      });
    });
  });
}

/**
 * The interface services (KeyValueBasic, TTL, Scan, Batch) and KeyValuePattern in one namespace see the same
 * data: what one writes the other reads, expiry included. Interfaces the target lacks are skipped per test.
 */
export function runSameDataSuite(name: string, target: () => Promise<Target>, want: Pick<ExpectedCapabilities, "scan" | "batch" | "expiration">): void {
  const SERVICES = {
    pattern: KeyValuePattern,
    kv: KeyValueBasicInterface,
    ttl: KeyValueTTLInterface,
    scan: KeyValueScanInterface,
    batch: KeyValueBatchInterface,
  };
  describe(`interface services and KeyValuePattern see the same data: ${name}`, () => {
    let t: Target;
    let c: ReturnType<typeof connect<typeof SERVICES>>;
    beforeAll(async () => {
      t = await target();
      c = connect(t, SERVICES);
    });
    afterAll(async () => {
      c?.close();
      await t?.close();
    });

    test("Set is Retrieved, Store is Got; Delete on one side is gone on the other", async () => {
      const p = uniquePrefix("same-basic");
      await c.kv.set({ key: p + "old", value: utf8("from Set") });
      expect(text((await c.pattern.retrieve({ key: p + "old" })).value)).toBe("from Set");
      await c.pattern.store({ key: p + "new", value: utf8("from Store") });
      expect(text((await c.kv.get({ key: p + "new" })).value)).toBe("from Store");
      expect((await c.kv.exists({ key: p + "new" })).exists).toBe(true);
      await c.pattern.delete({ key: p + "old" });
      expect((await c.kv.get({ key: p + "old" })).found).toBe(false);
      await c.kv.delete({ key: p + "new" });
      expect((await c.pattern.exists({ key: p + "new" })).exists).toBe(false);
    });

    // Registered only where both sides can see the feature (an unavailable one is the conformance suite's UNIMPLEMENTED test).
    if (want.expiration !== "unavailable")
      test("expiry set on one side is seen on the other", async () => {
        const p = uniquePrefix("same-ttl");
        await c.pattern.store({ key: p + "a", value: utf8("v"), expirationSeconds: 100n });
        const ttl = (await c.ttl.getTTL({ key: p + "a" })).ttlSeconds;
        expect(ttl > 90n && ttl <= 100n).toBe(true);
        await c.kv.set({ key: p + "b", value: utf8("v"), ttlSeconds: 200n });
        const exp = (await c.pattern.getExpiration({ key: p + "b" })).expirationSeconds;
        expect(exp > 190n && exp <= 200n).toBe(true);
        await c.ttl.persist({ key: p + "b" });
        expect((await c.pattern.getExpiration({ key: p + "b" })).expirationSeconds).toBe(-1n);
        await c.kv.set({ key: p + "c", value: utf8("v"), ttlSeconds: 1n });
        await eventually(async () => !(await c.pattern.exists({ key: p + "c" })).exists, "the key set with a 1 s TTL expired", 10_000, 100);
        expect((await c.kv.get({ key: p + "c" })).found).toBe(false);
      });

    if (want.batch !== "unavailable" && want.scan !== "unavailable")
      test("StoreBatch is seen by ScanKeys and BatchGet; BatchSet by Scan", async () => {
        const p = uniquePrefix("same-scan");
        await c.pattern.storeBatch({ requests: [1, 2, 3].map((i) => ({ key: `${p}s${i}`, value: utf8(`p${i}`) })) });
        await c.batch.batchSet({ requests: [4, 5].map((i) => ({ key: `${p}s${i}`, value: utf8(`o${i}`) })) });
        const old = await Array.fromAsync(c.scan.scan({ prefix: p }));
        expect(old.map((e) => `${e.key}=${text(e.value)}`).sort()).toEqual(
          [1, 2, 3].map((i) => `${p}s${i}=p${i}`).concat([4, 5].map((i) => `${p}s${i}=o${i}`)),
        );
        const pages = await Array.fromAsync(c.pattern.scan({ prefix: p, includeValues: true }));
        const fresh = pages.flatMap((pg) => pg.keys.map((k, i) => `${k}=${text(pg.values[i]!)}`));
        expect(fresh.sort()).toEqual(old.map((e) => `${e.key}=${text(e.value)}`).sort());
        expect((await c.scan.count({ prefix: p })).count).toBe(5n);
        const got = await c.batch.batchGet({ keys: [`${p}s1`, `${p}s5`] });
        expect(got.results.map((r) => text(r.value))).toEqual(["p1", "o5"]);
      });
  });
}
