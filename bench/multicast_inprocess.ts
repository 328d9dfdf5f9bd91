// The Multicast Registry without gRPC: pattern runtime, memstore slots and N in-process subscribers in one
// process, to separate the pattern's own cost from the network streams in bench/multicast_scale.ts.
//   bun bench/multicast_inprocess.ts [N=10000]
import { Registry } from "prom-client";
import { DriverMetrics } from "../sdk/drivers/instrument";
import { PatternRuntime } from "../sdk/lifecycle/runtime";
import { createLogger } from "../sdk/observability/logger";
import { memstore } from "../multicast-registry/backends/memstore";
import { multicastRegistryPattern } from "../multicast-registry/pattern";
const registry = new Registry();
const rt = new PatternRuntime(multicastRegistryPattern([memstore]), {
  logger: createLogger({ level: "error", write: () => {} }),
  driverMetrics: new DriverMetrics(registry),
  registry,
  configFile: "x",
});
await rt.initialize({ slots: { registry: { driver: "memstore", config: { max_keys: 1000000 } }, messaging: { driver: "memstore" } } });
const mr = rt.slot.current;
rt.start();
const N = Number(process.argv[2] ?? 10000);
let t = performance.now();
for (let i = 0; i < N; i++) await mr.register(`id-${i}`, { i, tenth: i % 10 === 0 }, 0);
console.log("register", (performance.now() - t).toFixed(0), "ms");
const ac = new AbortController();
let got = 0;
t = performance.now();
for (let i = 0; i < N; i++)
  void (async () => {
    for await (const _ of mr.subscribe(`id-${i}`, ac.signal)) got++;
  })().catch(() => {});
while (
  (
    await mr.subscribed(
      Array.from({ length: N }, (_, i) => `id-${i}`),
      ac.signal,
    )
  ).filter(Boolean).length < N
)
  await Bun.sleep(20);
console.log("subscribe", (performance.now() - t).toFixed(0), "ms");
t = performance.now();
let t1 = performance.now();
const all: string[] = [];
for await (const r of mr.store.all(undefined, ac.signal)) all.push(r.identity);
console.log("select", (performance.now() - t1).toFixed(0), "ms", all.length);
t1 = performance.now();
await mr.subscribed(all, ac.signal);
console.log("presence", (performance.now() - t1).toFixed(0), "ms");
t1 = performance.now();
const r = await mr.multicast(undefined, new Uint8Array(64), 60000, ac.signal);
console.log("multicast call", (performance.now() - t1).toFixed(0), "ms", r.results.filter((x) => x.status === "DELIVERED").length);
while (got < N) await Bun.sleep(5);
console.log("all received", (performance.now() - t1).toFixed(0), "ms");
ac.abort();
await rt.stop();
