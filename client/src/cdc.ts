import { type Capabilities as CdcCapabilities, CdcPattern, type ChangeEvent, type GetStatusResponse } from "../../proto/gen/prism/patterns/cdc/cdc_pattern_pb";
import { definePattern, type ModuleContext } from "./pattern";
import type { CallOptions } from "./transport";

export type { CdcCapabilities, ChangeEvent, GetStatusResponse as CdcStatus };

/**
 * Change Data Capture (prism.patterns.cdc.CdcPattern): the row changes committed in PostgreSQL, in commit order.
 * `subscribe` is an async iterator that opens the stream again after a failure, from the last event's LSN; the
 * events of that transaction already yielded (same LSN, position not past the last one) are not yielded twice.
 */
export class CdcClient {
  constructor(
    private readonly ctx: ModuleContext,
    readonly capabilities: CdcCapabilities,
  ) {}

  /** Asks again (connect() already did: `capabilities`). */
  async getCapabilities(_req: object = {}, opts?: CallOptions): Promise<CdcCapabilities> {
    return this.ctx.transport.unary(CdcPattern, "getCapabilities", {}, "read", opts);
  }

  /** Where capture stands: slot, confirmed LSN, lag, rate, state. */
  async status(opts?: CallOptions): Promise<GetStatusResponse> {
    return this.ctx.transport.unary(CdcPattern, "getStatus", {}, "read", opts);
  }

  /** Change events from `fromLsn` on ("X/Y"; absent = everything the sink holds), until the signal aborts. */
  async *subscribe(options: CallOptions & { fromLsn?: string } = {}): AsyncGenerator<ChangeEvent> {
    const { fromLsn, ...opts } = options;
    let last: ChangeEvent | undefined;
    const resume = (req: unknown, e: ChangeEvent) => ({ ...(req as object), fromLsn: e.lsn });
    for await (const e of this.ctx.transport.stream<ChangeEvent>(CdcPattern, "subscribe", { fromLsn: fromLsn ?? "" }, { ...opts, subscribe: true, resume })) {
      // A resumed stream starts at the last event's transaction again.
      if (last !== undefined && e.lsn === last.lsn && e.position <= last.position) continue;
      last = e;
      yield e;
    }
  }
}

export const cdc = definePattern({
  name: "cdc",
  service: CdcPattern,
  probe: (ctx: ModuleContext) => ctx.transport.unary<CdcCapabilities>(CdcPattern, "getCapabilities", {}, "read"),
  create: (ctx, caps) => new CdcClient(ctx, caps!),
});
