// Bun's event loop with nothing ref'd: prism-load's open loop (loadtest/pacer.ts) unrefs its pacer Worker, and
// while it awaits its run, the other handles it holds are unref'd too. Here the pacer alone ticks every 500 ms
// for 3 s while the main thread awaits an unref'd timer, without and then with one ref'd (idle) interval
// beside it; the CPU the process used in those 3 s, from process.cpuUsage().
//   ./node_modules/.bin/bun bench/idle_spin.ts
import { startPacer } from "../loadtest/pacer";
import { BUN } from "./processes";

const mode = process.argv[2];
if (mode === "unrefd" || mode === "refd") {
  const c0 = process.cpuUsage();
  const pacer = startPacer(performance.now(), 500, () => {});
  const keep = mode === "refd" ? setInterval(() => {}, 60_000) : undefined;
  await new Promise<void>((resolve) => setTimeout(resolve, 3000).unref());
  const used = process.cpuUsage(c0);
  pacer.stop();
  clearInterval(keep);
  process.stdout.write(`${((used.user + used.system) / 1000).toFixed(0)}\n`);
  process.exit(0);
}
const run = (m: string) =>
  Number(
    Bun.spawnSync([BUN, import.meta.path, m])
      .stdout.toString()
      .trim(),
  );
const unrefd = run("unrefd");
const refd = run("refd");
console.log(`pacer Worker (unref'd), main thread awaiting an unref'd timer: ${unrefd} ms of CPU in 3 s (${((unrefd / 3000) * 100).toFixed(0)} % of a core)`);
console.log(`the same with one ref'd idle setInterval beside it:           ${refd} ms of CPU in 3 s (${((refd / 3000) * 100).toFixed(0)} % of a core)`);
