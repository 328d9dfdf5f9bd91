import { KeyValueBatchInterface } from "../../proto/gen/prism/interfaces/keyvalue/keyvalue_batch_pb";
import type { KeyValueBatchDriver } from "../drivers/interfaces";
import { invalidArgument } from "../grpc/errors";
import { defineBinding } from "./binding";
import { checkBatch, checkKey, checkValue, toSafeNumber } from "./limits";

const EMPTY = new Uint8Array(0);

export const keyValueBatch = defineBinding({
  interfaceName: "keyvalue_batch",
  service: KeyValueBatchInterface,
  driverMethods: ["batchSet", "batchGet", "batchDelete"],
  implement: (driver: { readonly current: KeyValueBatchDriver }, limits) => ({
    async batchSet(req) {
      checkBatch(req.requests.length, limits);
      // Validate everything first so that a bad entry writes nothing.
      const entries = req.requests.map((r, i) => {
        checkKey(r.key, limits, `requests[${i}].key`);
        checkValue(r.value, limits);
        const ttlSeconds = toSafeNumber(r.ttlSeconds, `requests[${i}].ttl_seconds`);
        if (ttlSeconds < 0) throw invalidArgument(`requests[${i}].ttl_seconds must not be negative`);
        return { key: r.key, value: r.value, ttlSeconds };
      });
      await driver.current.batchSet(entries);
      return { results: entries.map(() => ({ success: true })), allSuccess: true };
    },
    async batchGet(req) {
      checkBatch(req.keys.length, limits);
      req.keys.forEach((k, i) => checkKey(k, limits, `keys[${i}]`));
      const values = await driver.current.batchGet(req.keys);
      let foundCount = 0;
      const results = values.map((v) => {
        if (v === undefined) return { found: false, value: EMPTY };
        foundCount++;
        return { found: true, value: v };
      });
      return { results, foundCount };
    },
    async batchDelete(req) {
      checkBatch(req.keys.length, limits);
      req.keys.forEach((k, i) => checkKey(k, limits, `keys[${i}]`));
      const found = await driver.current.batchDelete(req.keys);
      return { results: found.map((f) => ({ success: true, found: f })), allSuccess: true };
    },
  }),
});
