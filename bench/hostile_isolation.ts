/**
 * Issue 18's isolation figure: a memstore namespace's p99 while a remote pattern in the same proxy attacks it, per
 * attack, beside its baseline in the same run. dist/proxy serves `mem` (memstore, launched) and `hostile` (a remote
 * pattern played by tests/helpers/hostile_h2_server.ts, which answers Lifecycle calls and attacks every other
 * stream); prism-load drives `mem` open loop at RPS from its own process while this process sends the hostile
 * namespace a call every 100 ms, each one meeting the attack.
 *
 *   bun bench/hostile_isolation.ts [--rps 1000] [--duration 3s] [--out bench/results/hostile_isolation.md]
 *
 * Writes the table (a file the run writes whole) and prints it. Needs `make build-plugins`.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { KeyValueBasicInterface } from "../proto/gen/prism/interfaces/keyvalue/keyvalue_basic_pb";
import { createClient } from "../sdk/grpc/client";
import { ATTACKS, type AttackName, answerOk, lifecycleScript, type Script, startHostileServer } from "../tests/helpers/hostile_h2_server";
import { eventually, startProxy } from "../tests/proxy/harness";
import { prismLoad } from "./load";

const { values } = parseArgs({
  options: {
    rps: { type: "string", default: "1000" },
    duration: { type: "string", default: "3s" },
    out: { type: "string", default: "bench/results/hostile_isolation.md" },
  },
});
const ROOT = join(import.meta.dir, "..");
const RUN: AttackName[] = [
  "maxFrameSize0",
  "manyFields",
  "endlessContinuation",
  "hugeHeader",
  "pingFlood",
  "settingsFlood",
  "rstFlood",
  "continuationInterleaved",
];

let attack: Script = answerOk;
const hostile = await startHostileServer({ onRequest: lifecycleScript(() => attack) });
const proxy = await startProxy(`
namespaces:
  - name: mem
    pattern: memstore
  - name: hostile
    address: ${hostile.address}
    settings: { health_interval: 200ms, restart_initial_delay: 50ms, restart_max_delay: 200ms }
`);
const bad = createClient(KeyValueBasicInterface, proxy.address);
const load = () =>
  prismLoad([
    "--proxy",
    proxy.address,
    "--namespace",
    "mem",
    "--operation",
    "get",
    "--rps",
    values.rps!,
    "--duration",
    values.duration!,
    "--warmup",
    "1s",
    "--keys",
    "1000",
  ]);

const rows: string[] = [];
try {
  await eventually(async () => (await proxy.pattern("hostile")).status === "serving", "the hostile namespace serves", 10_000);
  const base = await load();
  rows.push(
    `| none (baseline) | ${base.latencyMs.p50.toFixed(3)} | ${base.latencyMs.p99.toFixed(3)} | 1.00 | ${base.ok} | ${Object.values(base.errors).reduce((a, b) => a + b, 0)} |`,
  );
  for (const name of RUN) {
    attack = answerOk;
    await eventually(async () => (await proxy.pattern("hostile")).status === "serving", "the hostile namespace serves again", 10_000);
    attack = ATTACKS[name];
    let running = true;
    const attacker = (async () => {
      while (running) {
        await bad.client.get({ key: name }, { metadata: { "x-prism-namespace": "hostile" }, timeoutMs: 2_000 }).catch(() => undefined);
        await Bun.sleep(100);
      }
    })();
    const r = await load();
    running = false;
    await attacker;
    const errors = Object.values(r.errors).reduce((a, b) => a + b, 0);
    rows.push(
      `| ${name} | ${r.latencyMs.p50.toFixed(3)} | ${r.latencyMs.p99.toFixed(3)} | ${(r.latencyMs.p99 / base.latencyMs.p99).toFixed(2)} | ${r.ok} | ${errors} |`,
    );
    console.log(rows.at(-1));
  }
} finally {
  bad.close();
  await proxy.stop();
  proxy.cleanup();
  await hostile.close();
}

const load1 = (await Bun.file("/proc/loadavg").text()).split(" ").slice(0, 3).join(" ");
const text = `# A hostile remote pattern beside a memstore namespace

Written by \`bun bench/hostile_isolation.ts --rps ${values.rps} --duration ${values.duration}\` on ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC (load average at the end ${load1}).
prism-load drives the \`mem\` namespace (memstore, launched) open loop at ${values.rps}/s through dist/proxy while the
\`hostile\` namespace's remote pattern (tests/helpers/hostile_h2_server.ts) attacks every call this script sends it,
one every 100 ms. p99 / baseline is the isolation figure of issue 18 (target: within 2×).

| attack on the hostile namespace | mem p50 ms | mem p99 ms | p99 / baseline | mem calls ok | mem errors |
| --- | ---: | ---: | ---: | ---: | ---: |
${rows.join("\n")}
`;
writeFileSync(join(ROOT, values.out!), text);
console.log(text);
