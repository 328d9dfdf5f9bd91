import { create, fromBinary, fromJsonString, toBinary, toJsonString } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { type ChangeEvent, ChangeEventSchema } from "../proto/gen/prism/patterns/cdc/cdc_pattern_pb";
import { formatLsn, type Lsn } from "./lsn";
import type { RowChange } from "./rows";

/** A change with its place in the stream: what the sink receives and subscribers read. */
export interface PlacedChange extends RowChange {
  lsn: Lsn;
  position: number;
  /** Commit time, Unix ms. */
  commitTimeMs: number;
  xid: number;
}

export type Encoding = "protobuf" | "json";

export function toEvent(c: PlacedChange): ChangeEvent {
  return create(ChangeEventSchema, {
    table: c.table,
    operation: c.operation,
    key: c.key,
    newValues: c.newValues,
    oldValues: c.oldValues,
    lsn: formatLsn(c.lsn),
    commitTime: timestampFromMs(c.commitTimeMs),
    transactionId: c.xid,
    position: BigInt(c.position),
  });
}

export function encodeEvent(event: ChangeEvent, encoding: Encoding): Uint8Array {
  return encoding === "json" ? new TextEncoder().encode(toJsonString(ChangeEventSchema, event)) : toBinary(ChangeEventSchema, event);
}

export function decodeEvent(payload: Uint8Array, encoding: Encoding): ChangeEvent {
  return encoding === "json" ? fromJsonString(ChangeEventSchema, new TextDecoder().decode(payload)) : fromBinary(ChangeEventSchema, payload);
}

/** Sink record metadata: a consumer can order and deduplicate without decoding the payload. */
export function eventMetadata(c: PlacedChange, encoding: Encoding): Record<string, string> {
  return {
    "cdc-lsn": formatLsn(c.lsn),
    "cdc-position": String(c.position),
    "cdc-table": c.table,
    "content-type": encoding === "json" ? "application/json" : "application/x-protobuf; messageType=prism.patterns.cdc.ChangeEvent",
  };
}
