import { type ChangeEvent, Operation } from "../../proto/gen/prism/patterns/cdc/cdc_pattern_pb";
import type { Command } from "../command";
import { toJson } from "../output";
import { printStream } from "./stream_items";

const OPERATION: Record<number, string> = {
  [Operation.INSERT]: "insert",
  [Operation.UPDATE]: "update",
  [Operation.DELETE]: "delete",
  [Operation.TRUNCATE]: "truncate",
};

const eventJson = (e: ChangeEvent) => ({
  table: e.table,
  operation: OPERATION[e.operation] ?? "unspecified",
  key: e.key,
  new_values: e.newValues ?? null,
  old_values: e.oldValues ?? null,
  lsn: e.lsn,
  position: e.position,
  transaction_id: e.transactionId,
  commit_time: e.commitTime ? new Date(Number(e.commitTime.seconds) * 1000 + Math.floor(e.commitTime.nanos / 1e6)).toISOString() : null,
});

const eventLine = (e: ChangeEvent) => {
  const j = eventJson(e);
  const values = j.new_values ?? j.old_values;
  return `${e.lsn}/${e.position} ${j.operation} ${e.table} ${JSON.stringify(e.key)}${values ? ` ${JSON.stringify(values)}` : ""}`;
};

/** Change Data Capture commands over CdcPattern (prism.patterns.cdc). */
export const CDC_COMMANDS: Command[] = [
  {
    group: "cdc",
    verb: "status",
    args: "",
    arity: 0,
    summary: "where capture stands: state, slot, confirmed LSN, lag, rate (exit 1 unless streaming)",
    async run(ctx) {
      const s = await (await ctx.client()).cdc.status();
      if (ctx.inv.json)
        ctx.io.out(
          toJson({
            state: s.state,
            error: s.error,
            slot: s.slot,
            confirmed_lsn: s.confirmedLsn,
            lag_bytes: s.lagBytes,
            lag_seconds: s.lagSeconds,
            events_per_second: s.eventsPerSecond,
            events_total: s.eventsTotal,
          }),
        );
      else {
        ctx.io.out(`state ${s.state}${s.error ? ` (${s.error})` : ""}`);
        ctx.io.out(`slot ${s.slot}, confirmed ${s.confirmedLsn || "-"}`);
        ctx.io.out(`lag ${s.lagBytes} bytes, ${s.lagSeconds.toFixed(1)} s; ${s.eventsPerSecond.toFixed(1)} events/s, ${s.eventsTotal} in all`);
      }
      return s.state === "streaming" ? 0 : 1;
    },
  },
  {
    group: "cdc",
    verb: "tail",
    args: "",
    arity: 0,
    flags: ["from", "count"],
    summary: "print change events (--from LSN: from that commit on; --count N: stop after N; Ctrl-C ends)",
    async run(ctx) {
      const c = (await ctx.client()).cdc;
      return printStream(ctx, c.subscribe({ fromLsn: ctx.inv.flags.from, signal: ctx.signal }), eventLine, (e) => toJson(eventJson(e)));
    },
  },
];
