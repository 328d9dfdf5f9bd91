import { ListBasicInterface } from "../../proto/gen/prism/interfaces/list/list_basic_pb";
import type { ListDriver } from "../drivers/interfaces";
import { invalidArgument } from "../errors";
import { defineBinding } from "./binding";
import { checkBatch, checkKey, checkValue, toSafeNumber, type Limits } from "./limits";

function checkPush(key: string, values: Uint8Array[], limits: Limits): void {
  checkKey(key, limits);
  if (values.length === 0) throw invalidArgument("values must not be empty");
  checkBatch(values.length, limits);
  for (const v of values) checkValue(v, limits);
}

function popCount(n: number): number {
  if (n < 0) throw invalidArgument("count must not be negative");
  return n === 0 ? 1 : n;
}

export const listBasic = defineBinding({
  interfaceName: "list_basic",
  service: ListBasicInterface,
  driverMethods: ["pushLeft", "pushRight", "popLeft", "popRight", "length", "range"],
  implement: (driver: { readonly current: ListDriver }, limits) => ({
    async pushLeft(req) {
      checkPush(req.key, req.values, limits);
      return { success: true, length: BigInt(await driver.current.pushLeft(req.key, req.values)) };
    },
    async pushRight(req) {
      checkPush(req.key, req.values, limits);
      return { success: true, length: BigInt(await driver.current.pushRight(req.key, req.values)) };
    },
    async popLeft(req) {
      checkKey(req.key, limits);
      return { values: await driver.current.popLeft(req.key, popCount(req.count)) };
    },
    async popRight(req) {
      checkKey(req.key, limits);
      return { values: await driver.current.popRight(req.key, popCount(req.count)) };
    },
    async length(req) {
      checkKey(req.key, limits);
      return { length: BigInt(await driver.current.length(req.key)) };
    },
    async range(req) {
      checkKey(req.key, limits);
      return { values: await driver.current.range(req.key, toSafeNumber(req.start, "start"), toSafeNumber(req.stop, "stop")) };
    },
  }),
});
