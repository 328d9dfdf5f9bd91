import type { RowResult } from "./results";

/** A measured row for the bench's own tests: memstore Get, direct, closed loop, 64 in flight, unless `extra` says otherwise. */
export const row = (id: string, extra: Partial<RowResult>): RowResult => ({
  id,
  label: id,
  backend: "memstore",
  via: "direct",
  operation: "get",
  mode: "closed-loop",
  concurrency: 64,
  rps: null,
  status: "ok",
  errors: {},
  ...extra,
});
