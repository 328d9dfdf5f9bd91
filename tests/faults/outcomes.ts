import { Code, codeName } from "../../sdk/grpc/errors";
import type { CallRecord } from "./load";

/** Codes a failed write may end with when its outcome is unknown (contract §5: sent, no reply). */
export const OUTCOME_UNKNOWN: readonly number[] = [Code.UNKNOWN, Code.DEADLINE_EXCEEDED, Code.CANCELLED];

/** A call whose answer does not match what happened to its write. */
export interface Mismatch {
  seq: number;
  code: string;
  applied: boolean;
  ms: number;
  message: string;
}

/**
 * Contract §5 per call: a write answered OK was applied; one answered UNAVAILABLE was not (safe to retry); any
 * other failure must say its outcome is unknown (UNKNOWN / DEADLINE_EXCEEDED / CANCELLED). `applied(seq)` says
 * whether the write made with that sequence number is in the backend; `judged(record)` limits the check (e.g.
 * to calls a memory store could still remember).
 */
export function outcomeMismatches(records: CallRecord[], applied: (seq: number) => boolean, judged: (r: CallRecord) => boolean = () => true): Mismatch[] {
  const out: Mismatch[] = [];
  for (const r of records) {
    if (!judged(r)) continue;
    const a = applied(r.seq);
    const wrong =
      (r.code === Code.OK && !a) ||
      (r.code === Code.UNAVAILABLE && a) ||
      (r.code !== Code.OK && r.code !== Code.UNAVAILABLE && !OUTCOME_UNKNOWN.includes(r.code));
    if (wrong) out.push({ seq: r.seq, code: codeName(r.code), applied: a, ms: Math.round(r.ms), message: r.message });
  }
  return out;
}
