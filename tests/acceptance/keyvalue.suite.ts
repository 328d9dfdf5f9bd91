/**
 * The key-value acceptance suite: the behaviour every key-value backend must
 * show over gRPC (KeyValueBasic, TTL, Scan, Batch). Run it from a one-line
 * test file: `runKeyValueSuite("redis", () => startRedisTarget())`.
 * Every test works under its own key prefix, so several suites may share a backend.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { KeyValueBasicInterface } from "../../proto/gen/prism/interfaces/keyvalue/keyvalue_basic_pb";
import { KeyValueBatchInterface } from "../../proto/gen/prism/interfaces/keyvalue/keyvalue_batch_pb";
import { KeyValueScanInterface } from "../../proto/gen/prism/interfaces/keyvalue/keyvalue_scan_pb";
import { KeyValueTTLInterface } from "../../proto/gen/prism/interfaces/keyvalue/keyvalue_ttl_pb";
import { Code } from "../../sdk/grpc/errors";
import { capabilitiesOf, codeOf, connect, eventually, text, uniquePrefix, utf8, type Target } from "./target";

const SERVICES = { kv: KeyValueBasicInterface, ttl: KeyValueTTLInterface, scan: KeyValueScanInterface, batch: KeyValueBatchInterface };
type Clients = ReturnType<typeof connect<typeof SERVICES>>;

/** Registers the key-value acceptance tests against the target the factory starts (once, for all tests). */
export function runKeyValueSuite(name: string, target: () => Promise<Target>): void {
  describe(`key-value acceptance: ${name}`, () => {
    let t: Target;
    let c: Clients;
    beforeAll(async () => {
      t = await target();
      c = connect(t, SERVICES);
    });
    afterAll(async () => {
      c?.close();
      await t?.close();
    });
    const caps = () => capabilitiesOf(t);
    /** What a test checks when the target declares it lacks the interface under test. */
    const expectUnimplemented = async (call: () => Promise<unknown> | AsyncIterable<unknown>) => expect(await codeOf(call)).toBe(Code.UNIMPLEMENTED);

    /** Reads a key: its value, or undefined when found=false. */
    const read = async (key: string) => {
      const r = await c.kv.get({ key });
      if (!r.found) expect(r.value.length).toBe(0);
      return r.found ? r.value : undefined;
    };

    describe("basic", () => {
      test("set then get returns the value", async () => {
        const key = uniquePrefix("set-get") + "k";
        expect((await c.kv.set({ key, value: utf8("hello") })).success).toBe(true);
        expect(text((await read(key))!)).toBe("hello");
      });

      test("get of a missing key is found=false, not an error", async () => {
        const r = await c.kv.get({ key: uniquePrefix("missing") + "nothing" });
        expect(r.found).toBe(false);
        expect(r.value.length).toBe(0);
      });

      test("overwrite replaces the value", async () => {
        const key = uniquePrefix("overwrite") + "k";
        await c.kv.set({ key, value: utf8("first") });
        await c.kv.set({ key, value: utf8("second, longer") });
        expect(text((await read(key))!)).toBe("second, longer");
      });

      test("binary values keep all 256 byte values", async () => {
        const key = uniquePrefix("binary") + "k";
        const value = new Uint8Array(512).map((_, i) => (i < 256 ? i : 511 - i));
        await c.kv.set({ key, value });
        expect([...(await read(key))!]).toEqual([...value]);
      });

      test("an empty value is stored and found", async () => {
        const key = uniquePrefix("empty-value") + "k";
        await c.kv.set({ key, value: new Uint8Array(0) });
        const r = await c.kv.get({ key });
        expect(r.found).toBe(true);
        expect(r.value.length).toBe(0);
        expect((await c.kv.exists({ key })).exists).toBe(true);
      });

      test("a 1 MiB value round-trips intact", async () => {
        const key = uniquePrefix("1mib") + "k";
        const value = new Uint8Array(randomBytes(1024 * 1024));
        await c.kv.set({ key, value });
        const got = (await read(key))!;
        expect(got.length).toBe(value.length);
        expect(Buffer.from(got).equals(Buffer.from(value))).toBe(true);
        await c.kv.delete({ key });
      });

      test("delete of an existing key and of a missing key", async () => {
        const key = uniquePrefix("delete") + "k";
        await c.kv.set({ key, value: utf8("v") });
        expect(await c.kv.delete({ key })).toMatchObject({ success: true, found: true });
        expect(await read(key)).toBeUndefined();
        expect(await c.kv.delete({ key })).toMatchObject({ success: true, found: false });
      });

      test("exists is true for a key and false otherwise", async () => {
        const p = uniquePrefix("exists");
        await c.kv.set({ key: p + "here", value: utf8("v") });
        expect((await c.kv.exists({ key: p + "here" })).exists).toBe(true);
        expect((await c.kv.exists({ key: p + "absent" })).exists).toBe(false);
      });

      test("empty keys, oversized keys and values, negative TTLs are INVALID_ARGUMENT", async () => {
        const { maxKeyBytes, maxValueBytes } = caps().limits;
        const p = uniquePrefix("invalid");
        const bigKey = p + "k".repeat(maxKeyBytes);
        expect(await codeOf(() => c.kv.set({ key: "", value: utf8("v") }))).toBe(Code.INVALID_ARGUMENT);
        expect(await codeOf(() => c.kv.get({ key: "" }))).toBe(Code.INVALID_ARGUMENT);
        expect(await codeOf(() => c.kv.delete({ key: "" }))).toBe(Code.INVALID_ARGUMENT);
        expect(await codeOf(() => c.kv.exists({ key: "" }))).toBe(Code.INVALID_ARGUMENT);
        expect(await codeOf(() => c.kv.set({ key: bigKey, value: utf8("v") }))).toBe(Code.INVALID_ARGUMENT);
        expect(await codeOf(() => c.kv.get({ key: bigKey }))).toBe(Code.INVALID_ARGUMENT);
        expect(await codeOf(() => c.kv.set({ key: p + "big", value: new Uint8Array(maxValueBytes + 1) }))).toBe(Code.INVALID_ARGUMENT);
        expect(await codeOf(() => c.kv.set({ key: p + "neg", value: utf8("v"), ttlSeconds: -1n }))).toBe(Code.INVALID_ARGUMENT);
        // A key of exactly the limit is fine, and nothing refused was written.
        const edgeKey = p + "e".repeat(maxKeyBytes - Buffer.byteLength(p));
        expect(await codeOf(() => c.kv.set({ key: edgeKey, value: utf8("v") }))).toBe(Code.OK);
        expect((await c.kv.exists({ key: p + "big" })).exists).toBe(false);
        expect((await c.kv.exists({ key: p + "neg" })).exists).toBe(false);
      });

      test("10 concurrent clients x 100 operations each", async () => {
        const p = uniquePrefix("concurrent");
        const clients = Array.from({ length: 10 }, () => connect(t, SERVICES));
        try {
          await Promise.all(
            clients.map(async (cl, ci) => {
              // 50 sets then 50 gets per client: 100 operations, checked value by value.
              await Promise.all(Array.from({ length: 50 }, (_, i) => cl.kv.set({ key: `${p}${ci}:${i}`, value: utf8(`${ci}/${i}`) })));
              const got = await Promise.all(Array.from({ length: 50 }, (_, i) => cl.kv.get({ key: `${p}${ci}:${i}` })));
              got.forEach((r, i) => {
                expect(r.found).toBe(true);
                expect(text(r.value)).toBe(`${ci}/${i}`);
              });
            }),
          );
        } finally {
          for (const cl of clients) cl.close();
        }
        if (caps().scan) expect(Number((await c.scan.count({ prefix: p })).count)).toBe(500);
        if (caps().batch) {
          const keys = Array.from({ length: 500 }, (_, i) => `${p}${Math.floor(i / 50)}:${i % 50}`);
          expect((await c.batch.batchDelete({ keys })).results.every((r) => r.found)).toBe(true);
        }
      });
    });

    describe("ttl", () => {
      test("a key set with a TTL, or given one by Expire, expires", async () => {
        if (!caps().ttl) return expectUnimplemented(() => c.ttl.getTTL({ key: uniquePrefix("no-ttl") + "k" }));
        const p = uniquePrefix("ttl-expiry");
        await c.kv.set({ key: p + "set", value: utf8("v"), ttlSeconds: 1n });
        await c.kv.set({ key: p + "expire", value: utf8("v") });
        expect(await c.ttl.expire({ key: p + "expire", ttlSeconds: 1n })).toMatchObject({ success: true, keyExisted: true });
        expect((await c.kv.exists({ key: p + "set" })).exists).toBe(true);
        await eventually(
          async () => !(await c.kv.get({ key: p + "set" })).found && !(await c.kv.exists({ key: p + "expire" })).exists,
          "both keys have expired",
        );
        expect(Number((await c.ttl.getTTL({ key: p + "set" })).ttlSeconds)).toBe(-2);
      });

      test("TTL 0 means no expiry; GetTTL is -1 without expiry and -2 for a missing key", async () => {
        if (!caps().ttl) return expectUnimplemented(() => c.ttl.getTTL({ key: uniquePrefix("no-ttl") + "k" }));
        const p = uniquePrefix("ttl-zero");
        await c.kv.set({ key: p + "k", value: utf8("v"), ttlSeconds: 0n });
        expect(Number((await c.ttl.getTTL({ key: p + "k" })).ttlSeconds)).toBe(-1);
        expect(Number((await c.ttl.getTTL({ key: p + "missing" })).ttlSeconds)).toBe(-2);
        await c.kv.set({ key: p + "t", value: utf8("v"), ttlSeconds: 100n });
        const ttl = Number((await c.ttl.getTTL({ key: p + "t" })).ttlSeconds);
        expect(ttl).toBeGreaterThan(90);
        expect(ttl).toBeLessThanOrEqual(100);
        await c.kv.delete({ key: p + "t" });
      });

      test("overwriting a key resets its TTL", async () => {
        if (!caps().ttl) return expectUnimplemented(() => c.ttl.getTTL({ key: uniquePrefix("no-ttl") + "k" }));
        const p = uniquePrefix("ttl-overwrite");
        await c.kv.set({ key: p + "none", value: utf8("v"), ttlSeconds: 1n });
        await c.kv.set({ key: p + "longer", value: utf8("v"), ttlSeconds: 1n });
        await c.kv.set({ key: p + "none", value: utf8("w") });
        await c.kv.set({ key: p + "longer", value: utf8("w"), ttlSeconds: 60n });
        // A control key set afterwards with the old TTL: once it is gone, the old TTLs are past too.
        await c.kv.set({ key: p + "control", value: utf8("v"), ttlSeconds: 1n });
        await eventually(async () => !(await c.kv.exists({ key: p + "control" })).exists, "the control key expired");
        expect(text((await read(p + "none"))!)).toBe("w");
        expect(text((await read(p + "longer"))!)).toBe("w");
        expect(Number((await c.ttl.getTTL({ key: p + "none" })).ttlSeconds)).toBe(-1);
        expect(Number((await c.ttl.getTTL({ key: p + "longer" })).ttlSeconds)).toBeGreaterThan(30);
        await c.kv.delete({ key: p + "longer" });
      });

      test("Expire and Persist follow Redis: missing keys, removal, TTL <= 0 deletes", async () => {
        if (!caps().ttl) return expectUnimplemented(() => c.ttl.getTTL({ key: uniquePrefix("no-ttl") + "k" }));
        const p = uniquePrefix("ttl-expire");
        expect(await c.ttl.expire({ key: p + "missing", ttlSeconds: 10n })).toMatchObject({ success: false, keyExisted: false });
        expect(await c.ttl.persist({ key: p + "missing" })).toMatchObject({ expirationRemoved: false });
        await c.kv.set({ key: p + "k", value: utf8("v") });
        expect((await c.ttl.persist({ key: p + "k" })).expirationRemoved).toBe(false);
        expect(await c.ttl.expire({ key: p + "k", ttlSeconds: 100n })).toMatchObject({ success: true, keyExisted: true });
        expect(Number((await c.ttl.getTTL({ key: p + "k" })).ttlSeconds)).toBeGreaterThan(90);
        expect(await c.ttl.persist({ key: p + "k" })).toMatchObject({ success: true, expirationRemoved: true });
        expect(Number((await c.ttl.getTTL({ key: p + "k" })).ttlSeconds)).toBe(-1);
        expect((await c.ttl.persist({ key: p + "k" })).expirationRemoved).toBe(false);
        expect((await c.ttl.expire({ key: p + "k", ttlSeconds: 0n })).keyExisted).toBe(true);
        expect((await c.kv.exists({ key: p + "k" })).exists).toBe(false);
        expect(await codeOf(() => c.ttl.getTTL({ key: "" }))).toBe(Code.INVALID_ARGUMENT);
      });
    });

    describe("scan", () => {
      /** Follows next_cursor page by page; `between` runs after each page that has a next one. */
      const scanPages = async (prefix: string, limit: number, keysOnly: boolean, between?: () => Promise<void>) => {
        const entries: { key: string; value?: Uint8Array }[] = [];
        let cursor = "";
        for (let pages = 0; pages < 1000; pages++) {
          const page = keysOnly
            ? await Array.fromAsync(c.scan.scanKeys({ prefix, limit, cursor }))
            : await Array.fromAsync(c.scan.scan({ prefix, limit, cursor }));
          expect(page.length).toBeLessThanOrEqual(limit || Infinity);
          expect(page.slice(0, -1).every((e) => e.nextCursor === "")).toBe(true);
          entries.push(...page.map((e) => ({ key: e.key, value: "value" in e ? e.value : undefined })));
          const next = page.at(-1)?.nextCursor ?? "";
          if (next === "") return entries;
          cursor = next;
          await between?.();
        }
        throw new Error("scan did not end after 1000 pages");
      };

      test("Scan by prefix with paging: every key once, with its value, none from other prefixes", async () => {
        if (!caps().scan) return expectUnimplemented(() => c.scan.scanKeys({ prefix: uniquePrefix("no-scan"), limit: 1, cursor: "" }));
        const p = uniquePrefix("scan");
        const keys = Array.from({ length: 25 }, (_, i) => `${p}item:${i}`);
        await Promise.all(keys.map((key) => c.kv.set({ key, value: utf8(`value of ${key}`) })));
        await c.kv.set({ key: `${p}itex`, value: utf8("sibling") });
        const all = await scanPages(`${p}item:`, 0, false);
        expect(all.map((e) => e.key).sort()).toEqual([...keys].sort());
        const paged = await scanPages(`${p}item:`, 7, false);
        expect(paged.length).toBe(25);
        expect(new Set(paged.map((e) => e.key)).size).toBe(25);
        for (const e of paged) expect(text(e.value!)).toBe(`value of ${e.key}`);
      });

      test("ScanKeys paging has no duplicates and no gaps while keys are added", async () => {
        if (!caps().scan) return expectUnimplemented(() => c.scan.scanKeys({ prefix: uniquePrefix("no-scan"), limit: 1, cursor: "" }));
        const p = uniquePrefix("scan-keys");
        const keys = Array.from({ length: 30 }, (_, i) => `${p}${String(i).padStart(2, "0")}`);
        await Promise.all(keys.map((key) => c.kv.set({ key, value: utf8("v") })));
        let added = 0;
        const seen = await scanPages(p, 4, true, async () => {
          // New keys that sort before, between and after the ones already returned.
          await c.kv.set({ key: `${p}${String(added).padStart(2, "0")}+new`, value: utf8("v") });
          await c.kv.set({ key: `${p}zz${added++}`, value: utf8("v") });
        });
        const seenKeys = seen.map((e) => e.key);
        expect(new Set(seenKeys).size).toBe(seenKeys.length);
        for (const k of keys) expect(seenKeys).toContain(k);
        expect(seenKeys.every((k) => k.startsWith(p))).toBe(true);
        expect(seen.every((e) => e.value === undefined)).toBe(true);
      });

      test("Count by prefix", async () => {
        if (!caps().scan) return expectUnimplemented(() => c.scan.scanKeys({ prefix: uniquePrefix("no-scan"), limit: 1, cursor: "" }));
        const p = uniquePrefix("count");
        await Promise.all(Array.from({ length: 12 }, (_, i) => c.kv.set({ key: `${p}a:${i}`, value: utf8("v") })));
        await Promise.all(Array.from({ length: 3 }, (_, i) => c.kv.set({ key: `${p}b:${i}`, value: utf8("v") })));
        expect(Number((await c.scan.count({ prefix: `${p}a:` })).count)).toBe(12);
        expect(Number((await c.scan.count({ prefix: p })).count)).toBe(15);
        expect(Number((await c.scan.count({ prefix: `${p}none` })).count)).toBe(0);
        await c.kv.delete({ key: `${p}a:0` });
        expect(Number((await c.scan.count({ prefix: `${p}a:` })).count)).toBe(11);
      });
    });

    describe("batch", () => {
      test("BatchSet, BatchGet and BatchDelete, results in request order", async () => {
        if (!caps().batch) return expectUnimplemented(() => c.batch.batchGet({ keys: [uniquePrefix("no-batch") + "k"] }));
        const p = uniquePrefix("batch");
        const keys = Array.from({ length: 10 }, (_, i) => `${p}${i}`);
        const set = await c.batch.batchSet({ requests: keys.map((key, i) => ({ key, value: utf8(`v${i}`) })) });
        expect(set.allSuccess).toBe(true);
        expect(set.results.length).toBe(10);
        const wanted = [keys[3]!, `${p}missing`, keys[0]!, keys[9]!];
        const got = await c.batch.batchGet({ keys: wanted });
        expect(got.foundCount).toBe(3);
        expect(got.results.map((r) => (r.found ? text(r.value) : null))).toEqual(["v3", null, "v0", "v9"]);
        const del = await c.batch.batchDelete({ keys: [keys[0]!, `${p}missing`, keys[1]!] });
        expect(del.results.map((r) => r.found)).toEqual([true, false, true]);
        expect((await c.batch.batchGet({ keys: [keys[0]!, keys[1]!, keys[2]!] })).foundCount).toBe(1);
        await c.batch.batchDelete({ keys });
      });

      test("a batch with one invalid key is INVALID_ARGUMENT and writes nothing", async () => {
        if (!caps().batch) return expectUnimplemented(() => c.batch.batchGet({ keys: [uniquePrefix("no-batch") + "k"] }));
        const p = uniquePrefix("batch-invalid");
        const code = await codeOf(() =>
          c.batch.batchSet({
            requests: [
              { key: `${p}ok`, value: utf8("v") },
              { key: "", value: utf8("v") },
            ],
          }),
        );
        expect(code).toBe(Code.INVALID_ARGUMENT);
        expect((await c.kv.exists({ key: `${p}ok` })).exists).toBe(false);
        expect(await codeOf(() => c.batch.batchGet({ keys: [`${p}ok`, ""] }))).toBe(Code.INVALID_ARGUMENT);
        expect(await codeOf(() => c.batch.batchDelete({ keys: [""] }))).toBe(Code.INVALID_ARGUMENT);
      });
    });

    describe("capacity", () => {
      test("beyond the declared bound new keys are RESOURCE_EXHAUSTED; overwrites are not", async () => {
        const cap = caps().capacity;
        const p = uniquePrefix("capacity");
        if (cap === false) {
          // No bound declared: a thousand new keys are all accepted (in one batch, or one by one without batches).
          const keys = Array.from({ length: 1000 }, (_, i) => `${p}${i}`);
          expect((await c.kv.set({ key: `${p}single`, value: utf8("v") })).success).toBe(true);
          await c.kv.delete({ key: `${p}single` });
          if (caps().batch) {
            expect((await c.batch.batchSet({ requests: keys.map((key) => ({ key, value: utf8("v") })) })).allSuccess).toBe(true);
            expect((await c.batch.batchDelete({ keys })).results.every((r) => r.found)).toBe(true);
            return;
          }
          const GROUP = 50;
          for (let i = 0; i < keys.length; i += GROUP) {
            const group = keys.slice(i, i + GROUP);
            const set = await Promise.all(group.map((key) => c.kv.set({ key, value: utf8("v") })));
            expect(set.every((r) => r.success)).toBe(true);
          }
          for (let i = 0; i < keys.length; i += GROUP) {
            const group = keys.slice(i, i + GROUP);
            const deleted = await Promise.all(group.map((key) => c.kv.delete({ key })));
            expect(deleted.every((r) => r.found)).toBe(true);
          }
          return;
        }
        const room = cap.maxKeys - Number((await c.scan.count({ prefix: "" })).count);
        const keys = Array.from({ length: room }, (_, i) => `${p}${i}`);
        try {
          for (let i = 0; i < keys.length; i += 1000) {
            await c.batch.batchSet({ requests: keys.slice(i, i + 1000).map((key) => ({ key, value: utf8("v") })) });
          }
          expect(await codeOf(() => c.kv.set({ key: `${p}one-too-many`, value: utf8("v") }))).toBe(Code.RESOURCE_EXHAUSTED);
          expect(await codeOf(() => c.batch.batchSet({ requests: [{ key: `${p}batch-too-many`, value: utf8("v") }] }))).toBe(Code.RESOURCE_EXHAUSTED);
          if (keys.length > 0) expect(await codeOf(() => c.kv.set({ key: keys[0]!, value: utf8("overwritten") }))).toBe(Code.OK);
          expect((await c.kv.exists({ key: `${p}one-too-many` })).exists).toBe(false);
        } finally {
          for (let i = 0; i < keys.length; i += 1000) await c.batch.batchDelete({ keys: keys.slice(i, i + 1000) });
        }
        expect(await codeOf(() => c.kv.set({ key: `${p}fits-again`, value: utf8("v") }))).toBe(Code.OK);
        await c.kv.delete({ key: `${p}fits-again` });
      });
    });
  });
}
