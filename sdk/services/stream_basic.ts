import { StreamBasicInterface } from "../../proto/gen/prism/interfaces/stream/stream_basic_pb";
import type { StreamDriver } from "../drivers/interfaces";
import { invalidArgument } from "../errors";
import { defineBinding } from "./binding";
import { checkKey, checkValue, toSafeNumber, writeOptions } from "./limits";

export const streamBasic = defineBinding({
  interfaceName: "stream_basic",
  service: StreamBasicInterface,
  driverMethods: ["append", "read", "trim"],
  implement: (driver: { readonly current: StreamDriver }, limits) => ({
    async append(req, ctx) {
      checkKey(req.stream, limits, "stream");
      checkValue(req.payload, limits);
      const write = writeOptions(ctx, limits);
      const r = await (write
        ? driver.current.append(req.stream, req.payload, req.metadata, req.key, write)
        : driver.current.append(req.stream, req.payload, req.metadata, req.key));
      return { success: true, offset: BigInt(r.offset), partition: r.partition, timestamp: BigInt(r.timestamp) };
    },
    async *read(req, ctx) {
      checkKey(req.stream, limits, "stream");
      const fromOffset = toSafeNumber(req.fromOffset, "from_offset");
      if (fromOffset < 0) throw invalidArgument("from_offset must not be negative");
      if (req.maxRecords < 0) throw invalidArgument("max_records must not be negative");
      const records = driver.current.read({
        stream: req.stream,
        partition: req.partition,
        fromOffset,
        fromTimestamp: toSafeNumber(req.fromTimestamp, "from_timestamp"),
        maxRecords: req.maxRecords,
        follow: req.follow,
        signal: ctx.signal,
      });
      for await (const r of records) {
        yield { ...r, offset: BigInt(r.offset), timestamp: BigInt(r.timestamp) };
      }
    },
    async trim(req) {
      checkKey(req.stream, limits, "stream");
      const low = await driver.current.trim(req.stream, req.partition, toSafeNumber(req.beforeOffset, "before_offset"));
      return { success: true, lowOffset: BigInt(low) };
    },
  }),
});
