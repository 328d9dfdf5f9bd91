import { KeyValueScanInterface } from "../../proto/gen/prism/interfaces/keyvalue/keyvalue_scan_pb";
import type { KeyValueScanDriver } from "../drivers/interfaces";
import { invalidArgument } from "../errors";
import { defineBinding } from "./binding";

const EMPTY = new Uint8Array(0);

/** Validates a scan request (shared with KeyValuePattern.Scan). */
export function checkScan(prefix: string, limit: number, maxKeyBytes: number): void {
  if (limit < 0) throw invalidArgument("limit must not be negative");
  if (Buffer.byteLength(prefix) > maxKeyBytes) throw invalidArgument(`prefix is over the key limit of ${maxKeyBytes} bytes`);
}

export const keyValueScan = defineBinding({
  interfaceName: "keyvalue_scan",
  service: KeyValueScanInterface,
  driverMethods: ["scan", "count"],
  implement: (driver: { readonly current: KeyValueScanDriver }, limits) => ({
    async *scan(req, ctx) {
      checkScan(req.prefix, req.limit, limits.maxKeyBytes);
      const entries = driver.current.scan({ prefix: req.prefix, limit: req.limit, cursor: req.cursor, withValues: true, signal: ctx.signal });
      for await (const e of entries) yield { key: e.key, value: e.value ?? EMPTY, nextCursor: e.nextCursor ?? "" };
    },
    async *scanKeys(req, ctx) {
      checkScan(req.prefix, req.limit, limits.maxKeyBytes);
      const entries = driver.current.scan({ prefix: req.prefix, limit: req.limit, cursor: req.cursor, withValues: false, signal: ctx.signal });
      for await (const e of entries) yield { key: e.key, nextCursor: e.nextCursor ?? "" };
    },
    async count(req) {
      return { count: BigInt(await driver.current.count(req.prefix)) };
    },
  }),
});
