import { create } from "@bufbuild/protobuf";
import {
  BatchPerformance,
  CapabilitiesSchema,
  ExpirationPerformance,
  KeyValuePattern,
  ScanPerformance,
  type Capabilities,
  type StoreStreamRequest,
} from "../../proto/gen/prism/patterns/keyvalue/keyvalue_pattern_pb";
import { InterfaceSupport as WireSupport } from "../../proto/gen/prism/patterns/schemas/slot_schema_pb";
import type { KeyValueBasicDriver, KeyValueBatchDriver, KeyValueScanDriver, KeyValueTTLDriver } from "../drivers/interfaces";
import type { KeyValueVersionedDriver } from "../drivers/versions";
import { chunkedOf } from "../emulation/chunked_reads";
import { KEY_VALUE_METHODS } from "../emulation/keyvalue";
import { capabilitiesOf, refusalOf, servedInterfaces, unavailableMessage, type KeyValueCapabilities, type Support } from "../emulation/capabilities";
import { Code, invalidArgument, PrismError, unimplemented } from "../errors";
import { defineBinding } from "./binding";
import { checkBatchKeys, toBatchEntries } from "./keyvalue_batch";
import { checkScan } from "./keyvalue_scan";
import { checkTags } from "./tags";
import { checkKey, checkValue, toSafeNumber, writeOptions } from "./limits";

type KeyValueDriver = KeyValueBasicDriver & KeyValueTTLDriver & KeyValueScanDriver & KeyValueBatchDriver & Partial<KeyValueVersionedDriver>;

const EMPTY = new Uint8Array(0);
/** Keys per streamed Scan page when the request leaves page_size 0. */
export const DEFAULT_SCAN_PAGE = 100;

const wireSupport: Record<Support, WireSupport> = {
  native: WireSupport.NATIVE,
  emulated: WireSupport.EMULATED,
  unavailable: WireSupport.UNAVAILABLE,
};
const scanPerf: Record<Support, ScanPerformance> = {
  native: ScanPerformance.SCAN_NATIVE,
  emulated: ScanPerformance.SCAN_EMULATED,
  unavailable: ScanPerformance.SCAN_UNAVAILABLE,
};
const batchPerf: Record<Support, BatchPerformance> = {
  native: BatchPerformance.BATCH_NATIVE,
  emulated: BatchPerformance.BATCH_PIPELINE,
  unavailable: BatchPerformance.BATCH_UNAVAILABLE,
};
const expiryPerf: Record<Support, ExpirationPerformance> = {
  native: ExpirationPerformance.EXPIRATION_NATIVE,
  emulated: ExpirationPerformance.EXPIRATION_EMULATED,
  unavailable: ExpirationPerformance.EXPIRATION_UNAVAILABLE,
};

/** The GetCapabilities answer for derived capabilities (built once per driver, then reused). */
export function toWireCapabilities(c: KeyValueCapabilities): Capabilities {
  const all = [c.basic, c.scan, c.batch, c.expiration];
  return create(CapabilitiesSchema, {
    supportsBatch: c.batch.support !== "unavailable",
    supportsScan: c.scan.support !== "unavailable",
    supportsExpiration: c.expiration.support !== "unavailable",
    supportsTransactions: c.transactions,
    supportsConditionalWrites: c.conditionalWrites,
    supportsTags: c.tags,
    scanPerformance: scanPerf[c.scan.support],
    batchPerformance: batchPerf[c.batch.support],
    expirationPerformance: expiryPerf[c.expiration.support],
    maxKeySize: BigInt(c.limits.maxKeyBytes),
    maxValueSize: BigInt(c.chunked ? Math.max(c.limits.maxStreamValueBytes, c.limits.maxValueBytes) : c.limits.maxValueBytes),
    supportsChunkedValues: c.chunked,
    maxMessageValueSize: BigInt(c.limits.maxValueBytes),
    maxBatchSize: c.limits.maxBatchSize,
    slots: {
      primaryBackendType: c.backend,
      primaryInterfaces: servedInterfaces(c),
      primary: {
        slot: "primary",
        backendType: c.backend,
        interfaces: all.map((i) => ({ name: i.name, service: i.service, support: wireSupport[i.support] })),
      },
      primarySchema: {
        name: "primary",
        description: "the key-value backend of the namespace",
        requiredInterfaces: ["keyvalue_basic"],
        optionalInterfaces: ["keyvalue_ttl", "keyvalue_scan", "keyvalue_batch"],
      },
    },
  });
}

const wireCache = new WeakMap<KeyValueCapabilities, Capabilities>();

function capsOf(driver: object): KeyValueCapabilities {
  const c = capabilitiesOf(driver);
  if (c === undefined) throw unimplemented(refusalOf(driver) ?? "key-value not supported by this pattern's backend: it has no key-value operations");
  return c;
}

function need(c: KeyValueCapabilities, feature: "scan" | "batch" | "expiration"): void {
  if (c[feature].support === "unavailable") throw unimplemented(unavailableMessage(c, feature));
}

/** The driver's conditional writes, or UNIMPLEMENTED when a request needs them (expected_version) and it has none. */
function versioned(d: KeyValueDriver, expected: string | undefined): KeyValueVersionedDriver | undefined {
  if (capsOf(d).conditionalWrites) return d as KeyValueVersionedDriver;
  if (expected !== undefined) throw unimplemented(`conditional writes not supported by ${capsOf(d).backend}: its driver has no versions`);
  return undefined;
}

/** The value bytes of StoreStream's messages after the first (INVALID_ARGUMENT for a second start). */
async function* chunkParts(it: AsyncIterator<StoreStreamRequest>, signal: AbortSignal): AsyncGenerator<Uint8Array> {
  for (;;) {
    const r = await nextOrCancelled(it, signal);
    if (r.done) return;
    if (r.value.part.case !== "chunk") {
      if (r.value.part.case === "start") throw invalidArgument("only StoreStream's first message may carry start");
      continue;
    }
    yield r.value.part.value;
  }
}

/**
 * The next request message, or CANCELLED once the call is (a cancelled call may never end its request stream).
 * A listener per wait, removed after it: racing one long-lived abort promise would keep every message alive
 * through that promise's growing list of reactions.
 */
function nextOrCancelled<T>(it: AsyncIterator<T>, signal: AbortSignal): Promise<IteratorResult<T>> {
  const cancelled = () => new PrismError(Code.CANCELLED, "StoreStream was cancelled before its last message: nothing stored");
  if (signal.aborted) return Promise.reject(cancelled());
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(cancelled());
    signal.addEventListener("abort", onAbort, { once: true });
    it.next().then(
      (r) => {
        signal.removeEventListener("abort", onAbort);
        resolve(r);
      },
      (err) => {
        signal.removeEventListener("abort", onAbort);
        reject(err);
      },
    );
  });
}

/**
 * KeyValuePattern (MEMO-042) over the namespace's driver, as wrapped by the SDK's emulation layer: the same
 * operations, validation and errors as the interface services (so both see the same data), plus
 * GetCapabilities from the capabilities derived at Initialize. An unavailable feature is UNIMPLEMENTED before
 * any validation, with the operation, the backend and why.
 */
export const keyValuePattern = defineBinding({
  interfaceName: "keyvalue_pattern",
  service: KeyValuePattern,
  driverMethods: KEY_VALUE_METHODS,
  implement: (driver: { readonly current: KeyValueDriver }, limits) => ({
    getCapabilities() {
      const c = capsOf(driver.current);
      let wire = wireCache.get(c);
      if (wire === undefined) wireCache.set(c, (wire = toWireCapabilities(c)));
      return wire;
    },
    async store(req, ctx) {
      const tags = checkTags(req.tags, capsOf(driver.current));
      checkKey(req.key, limits);
      checkValue(req.value, limits);
      const ttl = req.expirationSeconds === undefined ? 0 : toSafeNumber(req.expirationSeconds, "expiration_seconds");
      if (ttl < 0) throw invalidArgument("expiration_seconds must not be negative");
      if (ttl > 0) need(capsOf(driver.current), "expiration");
      const write = writeOptions(ctx, limits);
      const v = versioned(driver.current, req.expectedVersion);
      if (v) return { success: true, version: await v.setVersioned(req.key, req.value, ttl, req.expectedVersion, write, tags) };
      await (write ? driver.current.set(req.key, req.value, ttl, write) : driver.current.set(req.key, req.value, ttl));
      return { success: true };
    },
    async retrieve(req) {
      checkKey(req.key, limits);
      const v = versioned(driver.current, undefined);
      if (v) {
        const r = await v.getVersioned(req.key);
        if (r === undefined) return { found: false, value: EMPTY };
        return r.tags ? { found: true, value: r.value, version: r.version, tags: { tags: r.tags } } : { found: true, value: r.value, version: r.version };
      }
      const value = await driver.current.get(req.key);
      return value === undefined ? { found: false, value: EMPTY } : { found: true, value };
    },
    async delete(req, ctx) {
      checkKey(req.key, limits);
      const write = writeOptions(ctx, limits);
      const v = versioned(driver.current, req.expectedVersion);
      if (v && req.expectedVersion !== undefined) return { found: await v.deleteVersioned(req.key, req.expectedVersion, write), success: true };
      return { found: await (write ? driver.current.delete(req.key, write) : driver.current.delete(req.key)), success: true };
    },
    async exists(req) {
      checkKey(req.key, limits);
      return { exists: await driver.current.exists(req.key) };
    },
    async *scan(req, ctx) {
      const d = driver.current;
      const c = capsOf(d);
      need(c, "scan");
      const withTags = c.tags && req.includeValues;
      checkScan(req.prefix, req.limit, limits.maxKeyBytes);
      if (req.pageSize < 0) throw invalidArgument("page_size must not be negative");
      const pageSize = Math.min(req.pageSize > 0 ? req.pageSize : DEFAULT_SCAN_PAGE, limits.maxBatchSize);
      let remaining = req.limit > 0 ? req.limit : Infinity;
      let cursor = req.cursor;
      for (;;) {
        const keys: string[] = [];
        const values: Uint8Array[] = [];
        const tags: { tags: Record<string, string> }[] = [];
        let next = "";
        const entries = d.scan({ prefix: req.prefix, limit: Math.min(pageSize, remaining), cursor, withValues: req.includeValues, signal: ctx.signal });
        for await (const e of entries) {
          keys.push(e.key);
          if (req.includeValues) {
            values.push(e.value ?? EMPTY);
            if (withTags) tags.push({ tags: e.tags ?? {} });
          }
          if (e.nextCursor) next = e.nextCursor;
        }
        remaining -= keys.length;
        yield { keys, values, tags, nextCursor: next, hasMore: next !== "" };
        if (next === "" || remaining <= 0) return;
        cursor = next;
      }
    },
    async storeBatch(req, ctx) {
      const d = driver.current;
      const c = capsOf(d);
      need(c, "batch");
      const tags = req.requests.map((r, i) => checkTags(r.tags, c, `requests[${i}].tags`));
      const entries = toBatchEntries(
        req.requests.map((r) => ({ key: r.key, value: r.value, ttlSeconds: r.expirationSeconds ?? 0n })),
        limits,
      ).map((e, i) => (tags[i] ? { ...e, tags: tags[i] } : e));
      if (entries.some((e) => e.ttlSeconds > 0)) need(c, "expiration");
      const write = writeOptions(ctx, limits);
      await (write ? d.batchSet(entries, write) : d.batchSet(entries));
      return { results: entries.map(() => ({ success: true })), allSuccess: true, successCount: entries.length };
    },
    async retrieveBatch(req) {
      const d = driver.current;
      need(capsOf(d), "batch");
      checkBatchKeys(req.keys, limits);
      const values = await d.batchGet(req.keys);
      let foundCount = 0;
      const results = values.map((v) => {
        if (v === undefined) return { found: false, value: EMPTY };
        foundCount++;
        return { found: true, value: v };
      });
      return { results, foundCount };
    },
    async deleteBatch(req, ctx) {
      const d = driver.current;
      need(capsOf(d), "batch");
      checkBatchKeys(req.keys, limits);
      const write = writeOptions(ctx, limits);
      const found = await (write ? d.batchDelete(req.keys, write) : d.batchDelete(req.keys));
      return { results: found.map((f) => ({ found: f, success: true })), allSuccess: true, foundCount: found.filter(Boolean).length };
    },
    async setExpiration(req, ctx) {
      const d = driver.current;
      need(capsOf(d), "expiration");
      checkKey(req.key, limits);
      const seconds = toSafeNumber(req.expirationSeconds, "expiration_seconds");
      if (seconds < 0) throw invalidArgument("expiration_seconds must not be negative (0 removes the expiry)");
      const write = writeOptions(ctx, limits);
      if (seconds > 0) {
        const existed = await (write ? d.expire(req.key, seconds, write) : d.expire(req.key, seconds));
        return { success: true, keyExisted: existed };
      }
      const ttl = await d.getTTL(req.key);
      if (ttl === -2) return { success: true, keyExisted: false };
      // A keyed retry persists again even when the expiry is gone (maybe by its own first attempt): the driver
      // recognises the key, so a later Expire by someone else is not undone.
      if (ttl !== -1 || write) await (write ? d.persist(req.key, write) : d.persist(req.key));
      return { success: true, keyExisted: true };
    },
    async count(req) {
      const d = driver.current;
      need(capsOf(d), "scan");
      checkScan(req.prefix, 0, limits.maxKeyBytes);
      return { count: BigInt(await d.count(req.prefix)) };
    },
    async storeStream(reqs, ctx) {
      const it = reqs[Symbol.asyncIterator]();
      const first = await it.next();
      if (first.done || first.value.part.case !== "start") throw invalidArgument("StoreStream's first message must carry start (the key and options)");
      const s = first.value.part.value;
      const d = driver.current;
      const c = capsOf(d);
      const chunks = chunkedOf(d);
      if (!c.chunked || chunks === undefined) throw unimplemented(`chunked values not supported by ${c.backend}: it can neither scan nor list its keys`);
      const tags = checkTags(s.tags, c);
      checkKey(s.key, limits);
      const ttl = s.expirationSeconds === undefined ? 0 : toSafeNumber(s.expirationSeconds, "expiration_seconds");
      if (ttl < 0) throw invalidArgument("expiration_seconds must not be negative");
      if (ttl > 0) need(c, "expiration");
      const write = writeOptions(ctx, limits);
      versioned(d, s.expectedVersion);
      // Required: the end of a request stream alone does not prove the writer finished (see the proto).
      if (s.totalSize === undefined) throw invalidArgument("StoreStream's start must carry total_size (the value's length in bytes)");
      const total = toSafeNumber(s.totalSize, "total_size");
      if (total < 0) throw invalidArgument("total_size must not be negative");
      const version = await chunks.store(s.key, chunkParts(it, ctx.signal), {
        ttlSeconds: ttl,
        expected: s.expectedVersion,
        write,
        tags,
        totalSize: total,
      });
      return { success: true, version };
    },
    async *retrieveStream(req) {
      checkKey(req.key, limits);
      const d = driver.current;
      const c = capsOf(d);
      const chunks = chunkedOf(d);
      if (!c.chunked || chunks === undefined) throw unimplemented(`chunked values not supported by ${c.backend}: it can neither scan nor list its keys`);
      const r = await chunks.retrieve(req.key);
      if (r === undefined) {
        yield { part: { case: "header", value: { found: false } } };
        return;
      }
      const header = { found: true, version: r.version, totalSize: BigInt(r.size), ...(r.tags ? { tags: { tags: r.tags } } : {}) };
      yield { part: { case: "header", value: header } };
      for await (const chunk of r.chunks) yield { part: { case: "chunk", value: chunk } };
    },
    async getExpiration(req) {
      const d = driver.current;
      need(capsOf(d), "expiration");
      checkKey(req.key, limits);
      return { expirationSeconds: BigInt(await d.getTTL(req.key)) };
    },
  }),
});
