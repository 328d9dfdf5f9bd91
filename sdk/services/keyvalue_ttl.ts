import { KeyValueTTLInterface } from "../../proto/gen/prism/interfaces/keyvalue/keyvalue_ttl_pb";
import type { KeyValueTTLDriver } from "../drivers/interfaces";
import { defineBinding } from "./binding";
import { checkKey, toSafeNumber, writeOptions } from "./limits";

export const keyValueTTL = defineBinding({
  interfaceName: "keyvalue_ttl",
  service: KeyValueTTLInterface,
  driverMethods: ["expire", "getTTL", "persist"],
  implement: (driver: { readonly current: KeyValueTTLDriver }, limits) => ({
    async expire(req, ctx) {
      checkKey(req.key, limits);
      const ttl = toSafeNumber(req.ttlSeconds, "ttl_seconds");
      const write = writeOptions(ctx, limits);
      const existed = await (write ? driver.current.expire(req.key, ttl, write) : driver.current.expire(req.key, ttl));
      return { success: existed, keyExisted: existed, error: existed ? "" : "no such key" };
    },
    async getTTL(req) {
      checkKey(req.key, limits);
      return { ttlSeconds: BigInt(await driver.current.getTTL(req.key)) };
    },
    async persist(req, ctx) {
      checkKey(req.key, limits);
      const write = writeOptions(ctx, limits);
      const removed = await (write ? driver.current.persist(req.key, write) : driver.current.persist(req.key));
      return { success: true, expirationRemoved: removed };
    },
  }),
});
