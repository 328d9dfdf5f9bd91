import { defineBinding, invalidArgument } from "@prism/sdk";
import { CdcPattern as CdcService } from "../proto/gen/prism/patterns/cdc/cdc_pattern_pb";
import { formatLsn, type Lsn, parseLsn } from "./lsn";
import type { CdcPattern } from "./pattern";

function fromLsn(text: string): Lsn {
  if (text === "") return 0n;
  try {
    return parseLsn(text);
  } catch (err) {
    throw invalidArgument(`from_lsn: ${(err as Error).message}`);
  }
}

/** prism.patterns.cdc.CdcPattern over a running capture. */
export const cdcService = defineBinding({
  interfaceName: "cdc",
  service: CdcService,
  // The slot drivers are instrumented themselves (driver_operation_* by driver name).
  driverMethods: [],
  implement: (served: { readonly current: CdcPattern }) => ({
    getCapabilities: () => served.current.capabilities,

    getStatus() {
      const c = served.current.capture;
      return {
        slot: c.slot,
        confirmedLsn: formatLsn(c.confirmedLsn),
        lagBytes: BigInt(c.lagBytes),
        lagSeconds: c.lagSeconds,
        eventsPerSecond: c.eventsPerSecond,
        state: c.state,
        error: c.error,
        eventsTotal: BigInt(c.eventsTotal),
      };
    },

    async *subscribe(req, ctx) {
      const from = fromLsn(req.fromLsn);
      yield* served.current.capture.subscribe(from, ctx.signal);
    },
  }),
});
