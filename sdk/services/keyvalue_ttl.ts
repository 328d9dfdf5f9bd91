import { KeyValueTTLInterface } from "../../proto/gen/prism/interfaces/keyvalue/keyvalue_ttl_pb";
import type { KeyValueTTLDriver } from "../drivers/interfaces";
import { defineBinding } from "./binding";
import { checkKey, toSafeNumber } from "./limits";

export const keyValueTTL = defineBinding({
  interfaceName: "keyvalue_ttl",
  service: KeyValueTTLInterface,
  driverMethods: ["expire", "getTTL", "persist"],
  implement: (driver: { readonly current: KeyValueTTLDriver }, limits) => ({
    async expire(req) {
      checkKey(req.key, limits);
      const existed = await driver.current.expire(req.key, toSafeNumber(req.ttlSeconds, "ttl_seconds"));
      return { success: existed, keyExisted: existed, error: existed ? "" : "no such key" };
    },
    async getTTL(req) {
      checkKey(req.key, limits);
      return { ttlSeconds: BigInt(await driver.current.getTTL(req.key)) };
    },
    async persist(req) {
      checkKey(req.key, limits);
      const removed = await driver.current.persist(req.key);
      return { success: true, expirationRemoved: removed };
    },
  }),
});
