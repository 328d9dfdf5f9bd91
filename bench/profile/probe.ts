// Preloaded into a server run from its sources (`bun --preload bench/profile/probe.ts memstore/main.ts …`): SIGUSR1
// starts JavaScriptCore's sampling profiler (bun:jsc profile, every PRISM_PROFILE_INTERVAL_US µs, default 200) and
// the process's CPU clock; SIGUSR2 stops both and writes to PRISM_PROFILE_OUT a JSON object: the CPU µs spent
// (user, system) and, per sampled stack, its frames innermost first. bench/profile/run.ts reads it.
import { profile } from "bun:jsc";
import { writeFileSync } from "node:fs";

const out = process.env.PRISM_PROFILE_OUT;
const interval = Number(process.env.PRISM_PROFILE_INTERVAL_US ?? 200);
let stop: (() => void) | undefined;
if (out) {
  process.on("SIGUSR1", () => {
    if (stop) return;
    const cpu0 = process.cpuUsage();
    const done = new Promise<void>((resolve) => {
      stop = resolve;
    });
    void profile(() => done, interval).then((p) => {
      const cpu = process.cpuUsage(cpu0);
      const frames = (t: { frames: Array<{ name: string; sourceURL?: string; line?: number }> }) =>
        t.frames.map((f) => `${f.name || "(anonymous)"} ${f.sourceURL ?? "[native]"}${f.line && f.line < 1e9 ? `:${f.line}` : ""}`);
      writeFileSync(out, JSON.stringify({ cpuUs: { user: cpu.user, system: cpu.system }, stacks: p.stackTraces.traces.map(frames) }));
      process.stderr.write("profile-probe written\n");
      stop = undefined;
    });
  });
  process.on("SIGUSR2", () => stop?.());
}
