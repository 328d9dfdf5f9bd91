import { type AppendResponse, StreamBasicInterface, type StreamRecord, type TrimResponse } from "../../proto/gen/prism/interfaces/stream/stream_basic_pb";
import { definePattern, type ModuleContext } from "./pattern";
import type { CallOptions } from "./transport";

const bytes = (v: string | Uint8Array): Uint8Array => (typeof v === "string" ? new TextEncoder().encode(v) : v);

/**
 * An append-only stream over the namespace's StreamBasicInterface. Append carries an idempotency key (retried);
 * Read is an async iterator that, after a failure, reads on from the offset after the last record it yielded.
 */
export class StreamClient {
  constructor(private readonly ctx: ModuleContext) {}

  append(
    stream: string,
    payload: string | Uint8Array,
    options: CallOptions & { key?: string; headers?: Record<string, string> } = {},
  ): Promise<AppendResponse> {
    const { key, headers, ...opts } = options;
    return this.ctx.transport.unary(StreamBasicInterface, "append", { stream, payload: bytes(payload), key, metadata: headers }, "keyed", opts);
  }
  read(
    stream: string,
    options: CallOptions & { partition?: number; fromOffset?: bigint; fromTimestamp?: bigint; maxRecords?: number } = {},
  ): AsyncIterable<StreamRecord> {
    const { partition, fromOffset, fromTimestamp, maxRecords, ...opts } = options;
    const resume = (r: unknown, last: StreamRecord) => ({
      ...(r as object),
      fromOffset: last.offset + 1n,
      fromTimestamp: 0n,
      maxRecords: maxRecords ? Math.max(0, maxRecords - 1) : 0,
    });
    return this.ctx.transport.stream(
      StreamBasicInterface,
      "read",
      { stream, partition, fromOffset, fromTimestamp, maxRecords },
      { ...opts, subscribe: true, resume },
    );
  }
  trim(stream: string, beforeOffset: bigint, options: CallOptions & { partition?: number } = {}): Promise<TrimResponse> {
    const { partition, ...opts } = options;
    return this.ctx.transport.unary(StreamBasicInterface, "trim", { stream, partition, beforeOffset }, "idempotent", opts);
  }
}

export const stream = definePattern({ name: "stream", service: StreamBasicInterface, create: (ctx) => new StreamClient(ctx) });
