// The pacer alone, no gRPC: how late the main thread runs each tick.
//   ./node_modules/.bin/bun bench/pacer_lag.ts [LEAD_MS]   (0 = wake at the due time, the old behaviour; default 0.15, the pacer's)
import { startPacer } from "../loadtest/pacer";
const lead = process.argv[2] === undefined ? undefined : Number(process.argv[2]);
const interval = 1;
const start = performance.now() + 5;
const lags: number[] = [];
let n = 0;
let k = 0;
const cpu0 = process.cpuUsage();
const p = startPacer(
  start,
  interval,
  () => {
    const now = performance.now();
    // every due tick up to now counts (coalesced ticks show as lag of the older ones)
    while (start + (k + 1) * interval <= now) {
      k++;
      lags.push(now - (start + k * interval));
      n++;
    }
    if (n >= 5000) {
      p.stop();
      const cpu = process.cpuUsage(cpu0);
      lags.sort((a, b) => a - b);
      const q = (x: number) => lags[Math.floor(x * (lags.length - 1))]!.toFixed(3);
      console.log(
        `lead ${lead ?? "default"} ms: ticks ${lags.length} lag ms p50 ${q(0.5)} p90 ${q(0.9)} p99 ${q(0.99)} p99.9 ${q(0.999)} max ${q(1)}; cpu ${(((cpu.user + cpu.system) / 1e3 / (n * interval)) * 100).toFixed(1)}%`,
      );
      process.exit(0);
    }
  },
  lead,
);
setInterval(() => {}, 1000);
