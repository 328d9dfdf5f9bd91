// Preloaded into a server run from its sources (`bun --preload bench/alloc/probe.ts proxy/main.ts …`) with the
// collector off (BUN_JSC_useGC=false): on SIGUSR2 it prints two lines, "alloc-probe <seq> <bytes>", where bytes is
// the JavaScript heap's size, then "alloc-types <seq> <json>", the heap's cell count per type (bun:jsc heapStats).
// With nothing ever collected, both only grow, by every byte and every object allocated on the heap (garbage
// included): two snapshots around N calls measure what those calls allocated. bench/alloc/per_call.ts reads them.
import { heapStats } from "bun:jsc";

let seq = 0;
process.on("SIGUSR2", () => {
  seq++;
  const bytes = process.memoryUsage().heapUsed;
  const types = heapStats().objectTypeCounts;
  process.stderr.write(`alloc-probe ${seq} ${bytes}\nalloc-types ${seq} ${JSON.stringify(types)}\n`);
});
