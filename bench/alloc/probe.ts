// Preloaded into a server run from its sources (`bun --preload bench/alloc/probe.ts proxy/main.ts …`) with the
// collector off (BUN_JSC_useGC=false): on SIGUSR2 it prints one line, "alloc-probe <seq> <bytes>", where bytes is
// the JavaScript heap's size. With nothing ever collected, that size only grows, by every byte allocated on the
// heap (objects, strings, closures, small typed-array cells): two snapshots around N calls measure the heap bytes
// those calls allocated, garbage included. bench/alloc/per_call.ts reads it.
let seq = 0;
process.on("SIGUSR2", () => {
  seq++;
  process.stderr.write(`alloc-probe ${seq} ${process.memoryUsage().heapUsed}\n`);
});
