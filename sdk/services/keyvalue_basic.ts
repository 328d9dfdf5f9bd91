import { KeyValueBasicInterface } from "../../proto/gen/prism/interfaces/keyvalue/keyvalue_basic_pb";
import type { KeyValueBasicDriver } from "../drivers/interfaces";
import { invalidArgument } from "../errors";
import { defineBinding } from "./binding";
import { capabilitiesOf } from "../emulation/capabilities";
import type { KeyValueVersionedDriver } from "../drivers/versions";
import { checkTags } from "./tags";
import { checkKey, checkValue, toSafeNumber, writeOptions } from "./limits";

const EMPTY = new Uint8Array(0);

export const keyValueBasic = defineBinding({
  interfaceName: "keyvalue_basic",
  service: KeyValueBasicInterface,
  driverMethods: ["set", "get", "delete", "exists"],
  implement: (driver: { readonly current: KeyValueBasicDriver }, limits) => ({
    async set(req, ctx) {
      const tags = checkTags(req.tags, capabilitiesOf(driver.current));
      checkKey(req.key, limits);
      checkValue(req.value, limits);
      const ttl = toSafeNumber(req.ttlSeconds, "ttl_seconds");
      if (ttl < 0) throw invalidArgument("ttl_seconds must not be negative");
      const write = writeOptions(ctx, limits);
      // Tags are stored through the driver's tagged write (checkTags let them through only where it has one).
      if (tags) await (driver.current as unknown as KeyValueVersionedDriver).setVersioned(req.key, req.value, ttl, undefined, write, tags);
      else await (write ? driver.current.set(req.key, req.value, ttl, write) : driver.current.set(req.key, req.value, ttl));
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
