import { KeyValueBatchInterface } from "../../proto/gen/prism/interfaces/keyvalue/keyvalue_batch_pb";
import type { KeyValueBatchDriver } from "../drivers/interfaces";
import { invalidArgument } from "../errors";
import { capabilitiesOf } from "../emulation/capabilities";
import { defineBinding } from "./binding";
import { checkTags } from "./tags";
import { checkBatch, checkKey, checkValue, toSafeNumber, writeOptions, type Limits } from "./limits";

const EMPTY = new Uint8Array(0);

/** Validates every entry of a batch write first, so that a bad entry writes nothing (shared with KeyValuePattern). */
export function toBatchEntries(requests: readonly { key: string; value: Uint8Array; ttlSeconds: bigint }[], limits: Limits, what = "requests") {
  checkBatch(requests.length, limits);
  return requests.map((r, i) => {
    checkKey(r.key, limits, `${what}[${i}].key`);
    checkValue(r.value, limits);
    const ttlSeconds = toSafeNumber(r.ttlSeconds, `${what}[${i}].ttl_seconds`);
    if (ttlSeconds < 0) throw invalidArgument(`${what}[${i}].ttl_seconds must not be negative`);
    return { key: r.key, value: r.value, ttlSeconds };
  });
}

/** Validates the keys of a batch read or delete (shared with KeyValuePattern). */
export function checkBatchKeys(keys: readonly string[], limits: Limits): void {
  checkBatch(keys.length, limits);
  keys.forEach((k, i) => checkKey(k, limits, `keys[${i}]`));
}

export const keyValueBatch = defineBinding({
  interfaceName: "keyvalue_batch",
  service: KeyValueBatchInterface,
  driverMethods: ["batchSet", "batchGet", "batchDelete"],
  implement: (driver: { readonly current: KeyValueBatchDriver }, limits) => ({
    async batchSet(req, ctx) {
      const caps = capabilitiesOf(driver.current);
      const tags = req.requests.map((r, i) => checkTags(r.tags, caps, `requests[${i}].tags`));
      const entries = toBatchEntries(req.requests, limits).map((e, i) => (tags[i] ? { ...e, tags: tags[i] } : e));
      const write = writeOptions(ctx, limits);
      await (write ? driver.current.batchSet(entries, write) : driver.current.batchSet(entries));
      return { results: entries.map(() => ({ success: true })), allSuccess: true };
    },
    async batchGet(req) {
      checkBatchKeys(req.keys, limits);
      const values = await driver.current.batchGet(req.keys);
      let foundCount = 0;
      const results = values.map((v) => {
        if (v === undefined) return { found: false, value: EMPTY };
        foundCount++;
        return { found: true, value: v };
      });
      return { results, foundCount };
    },
    async batchDelete(req, ctx) {
      checkBatchKeys(req.keys, limits);
      const write = writeOptions(ctx, limits);
      const found = await (write ? driver.current.batchDelete(req.keys, write) : driver.current.batchDelete(req.keys));
      return { results: found.map((f) => ({ success: true, found: f })), allSuccess: true };
    },
  }),
});
