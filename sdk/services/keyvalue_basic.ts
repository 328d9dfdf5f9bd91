import { KeyValueBasicInterface } from "../../proto/gen/prism/interfaces/keyvalue/keyvalue_basic_pb";
import type { KeyValueBasicDriver } from "../drivers/interfaces";
import { invalidArgument } from "../grpc/errors";
import { defineBinding } from "./binding";
import { capabilitiesOf } from "../emulation/capabilities";
import { refuseTags } from "./tags";
import { checkKey, checkValue, toSafeNumber, writeOptions } from "./limits";

const EMPTY = new Uint8Array(0);

export const keyValueBasic = defineBinding({
  interfaceName: "keyvalue_basic",
  service: KeyValueBasicInterface,
  driverMethods: ["set", "get", "delete", "exists"],
  implement: (driver: { readonly current: KeyValueBasicDriver }, limits) => ({
    async set(req, ctx) {
      if (req.tags) refuseTags(req.tags, capabilitiesOf(driver.current)?.backend ?? "this backend");
      checkKey(req.key, limits);
      checkValue(req.value, limits);
      const ttl = toSafeNumber(req.ttlSeconds, "ttl_seconds");
      if (ttl < 0) throw invalidArgument("ttl_seconds must not be negative");
      const write = writeOptions(ctx, limits);
      await (write ? driver.current.set(req.key, req.value, ttl, write) : driver.current.set(req.key, req.value, ttl));
      return { success: true };
    },
    async get(req) {
      checkKey(req.key, limits);
      const value = await driver.current.get(req.key);
      return value === undefined ? { found: false, value: EMPTY } : { found: true, value };
    },
    async delete(req, ctx) {
      checkKey(req.key, limits);
      const write = writeOptions(ctx, limits);
      const found = await (write ? driver.current.delete(req.key, write) : driver.current.delete(req.key));
      return { success: true, found };
    },
    async exists(req) {
      checkKey(req.key, limits);
      return { exists: await driver.current.exists(req.key) };
    },
  }),
});
