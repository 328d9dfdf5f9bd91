// Allocation per call stays under a recorded budget (issue 26): the JavaScript heap bytes and objects a Get costs the memstore
// pattern served directly and the proxy forwarding it, counted with the collector off (bench/alloc/per_call.ts), so
// the figure is a count, not a timing. The budget and how its margin was chosen: tests/perf/alloc_budget.json.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { measureAllocPerCall, type AllocResult, type AllocSubject } from "../../bench/alloc/per_call";
import { SAMPLED_CALLER, TRACING_ALWAYS_ON, TRACING_AT_A_RATIO, UNSAMPLED_CALLER } from "../../bench/alloc/section";
import { requireBuilt } from "../proxy/harness";

const budget = JSON.parse(readFileSync(`${import.meta.dir}/alloc_budget.json`, "utf8")) as Record<
  AllocSubject,
  { bytesPerCall: number; objectsPerCall: number }
> & {
  margin: number;
  tracing: TracingBudget;
  tracingAlwaysOn: TracingBudget;
};
type TracingBudget = Record<AllocSubject, { bytesPerCall: number; objectsPerCall: number }> & { margin: number; slackBytes: number; slackObjects: number };

const untraced: Partial<Record<AllocSubject, AllocResult>> = {};

describe("heap bytes and objects allocated per call, against tests/perf/alloc_budget.json", () => {
  requireBuilt("memstore", "prism-load");
  for (const subject of ["memstore", "proxy"] as const) {
    test(`${subject}`, async () => {
      const recorded = budget[subject].bytesPerCall;
      const r = await measureAllocPerCall(subject);
      untraced[subject] = r;
      const line = `${subject}: ${Math.round(r.bytesPerCall)} heap bytes per call (rounds ${r.rounds.map(Math.round).join(", ")}), recorded ${recorded}`;
      process.stderr.write(`${line}\n`);
      // Far below the record: a change made calls cheaper and should record the new figure (not a failure).
      if (r.bytesPerCall < recorded * (1 - budget.margin)) process.stderr.write(`${subject}: below the record by more than the margin: re-record it\n`);
      expect(r.bytesPerCall, line).toBeLessThanOrEqual(recorded * (1 + budget.margin));
      // A measurement that saw no calls would pass any budget.
      expect(r.bytesPerCall, line).toBeGreaterThan(1000);
      const objects = budget[subject].objectsPerCall;
      const top = Object.entries(r.objectsPerCallByType)
        .sort((a, b) => b[1] - a[1])
        .slice(0, 6)
        .map(([t, n]) => `${t} ${n.toFixed(1)}`)
        .join(", ");
      const objectsLine = `${subject}: ${r.objectsPerCall.toFixed(1)} heap objects per call (${top}), recorded ${objects}`;
      process.stderr.write(`${objectsLine}\n`);
      expect(r.objectsPerCall, objectsLine).toBeLessThanOrEqual(objects * (1 + budget.margin));
      expect(r.objectsPerCall, objectsLine).toBeGreaterThan(20);
    }, 180_000);
  }

  // Most calls are left out by a ratio sampler; what tracing adds to them is guarded apart, as the difference to the
  // untraced figure above (the untraced budget's margin is wider than all tracing adds). Always on: what recording
  // the spans adds (the pattern's server and backend call spans, the proxy's span), nothing exported.
  const setups = [
    { name: "tracing on at a ratio (a call left out)", env: TRACING_AT_A_RATIO, caller: UNSAMPLED_CALLER, budget: budget.tracing },
    { name: "tracing always on (spans recorded)", env: TRACING_ALWAYS_ON, caller: SAMPLED_CALLER, budget: budget.tracingAlwaysOn },
  ];
  for (const setup of setups)
    for (const subject of ["memstore", "proxy"] as const) {
      test(`${subject}, ${setup.name}: what tracing adds`, async () => {
        const base = untraced[subject];
        if (base === undefined) throw new Error(`the untraced ${subject} figure was not measured (run the whole file)`);
        // memstore gets the traceparent the proxy sends it; the proxy gets none from prism-load and decides itself.
        const r = await measureAllocPerCall(subject, { env: setup.env, metadata: subject === "memstore" ? [setup.caller] : [] });
        const t = setup.budget;
        const added = r.bytesPerCall - base.bytesPerCall;
        const addedObjects = r.objectsPerCall - base.objectsPerCall;
        const line = `${subject}, ${setup.name}: tracing adds ${Math.round(added)} heap bytes and ${addedObjects.toFixed(1)} objects per call (${Math.round(r.bytesPerCall)} vs ${Math.round(base.bytesPerCall)}), recorded +${t[subject].bytesPerCall} and +${t[subject].objectsPerCall}`;
        process.stderr.write(`${line}\n`);
        expect(added, line).toBeLessThanOrEqual(t[subject].bytesPerCall * (1 + t.margin) + t.slackBytes);
        expect(addedObjects, line).toBeLessThanOrEqual(t[subject].objectsPerCall * (1 + t.margin) + t.slackObjects);
      }, 180_000);
    }
});
