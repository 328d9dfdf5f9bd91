/**
 * Pub/sub figures per backend, direct and through the proxy, measured with dist/prism-load:
 *   publish, 1 in flight      → publish latency p50/p99 (acknowledged by the backend)
 *   publish, 16 in flight     → publish throughput and latency under load
 *   subscribe, 1 / 16 in flight → end-to-end publish→receive latency and delivered messages/s
 *
 *   ./node_modules/.bin/bun tests/kafka/pubsub_bench.ts [--duration 10s] [--backends memstore,nats,kafka]
 *
 * Needs dist/{memstore,nats,kafka,proxy,prism-load} and the shared services (make services).
 */
import { parseArgs } from "node:util";
import { ROOT, startPattern, startProcess } from "../helpers/process";
import { kafkaBrokers, natsUrl, requireService } from "../helpers/services";
import { proxyTarget } from "../helpers/proxy_target";
import { deleteNamespaceTopics, kafkaPattern, testConfig as kafkaConfig, uniqueNamespace } from "./target";
import { natsPattern, testConfig as natsConfig } from "../nats/target";
import type { Target } from "../acceptance/target";

const { values } = parseArgs({ options: { duration: { type: "string", default: "10s" }, backends: { type: "string", default: "memstore,nats,kafka" } } });
const duration = values.duration!;

interface Summary {
  p50: number;
  p99: number;
}
interface Report {
  throughput: number;
  latencyMs: Summary;
  serviceTimeMs: Summary;
  errors: Record<string, number>;
  lost: number | null;
}

async function load(t: Target, args: string[]): Promise<Report> {
  const ns = t.metadata?.["x-prism-namespace"];
  const cmd = [
    `${ROOT}/dist/prism-load`,
    ns ? "--proxy" : "--direct",
    t.address,
    ...(ns ? ["--namespace", ns] : []),
    "--duration",
    duration,
    "--progress",
    "never",
    "--json",
    "-",
    ...args,
  ];
  const p = startProcess(cmd);
  const code = await p.exited;
  const out = p.output();
  if (code !== 0) throw new Error(`prism-load failed (${code}):\n${out}`);
  return JSON.parse(out.slice(out.indexOf("{"), out.lastIndexOf("}") + 1)) as Report;
}

const backends: Record<string, { direct: () => Promise<Target>; proxy: () => Promise<Target> }> = {
  memstore: {
    direct: async () => {
      const p = await startPattern("memstore");
      return { address: p.address, close: async () => void (await p.stop()) };
    },
    proxy: () => proxyTarget("memstore", "bench-memstore", {}),
  },
  nats: {
    direct: async () => (await requireService("nats"), natsPattern(natsConfig(natsUrl(), "bench"))),
    proxy: async () => (await requireService("nats"), proxyTarget("nats", "bench-nats", { url: natsUrl() })),
  },
  kafka: {
    direct: async () => {
      await requireService("kafka");
      const ns = uniqueNamespace("bench");
      return kafkaPattern(kafkaConfig(kafkaBrokers(), ns), () => deleteNamespaceTopics(kafkaBrokers(), ns));
    },
    proxy: async () => {
      await requireService("kafka");
      const ns = uniqueNamespace("bench");
      const { namespace: _n, ...config } = kafkaConfig(kafkaBrokers(), ns);
      return proxyTarget("kafka", ns, config, () => deleteNamespaceTopics(kafkaBrokers(), ns));
    },
  },
};

const f = (n: number) => n.toFixed(2);
const rows: string[] = [];
for (const name of values.backends!.split(",")) {
  for (const via of ["direct", "proxy"] as const) {
    const t = await backends[name]![via]();
    try {
      const topic = `bench-${Date.now()}`;
      const pub1 = await load(t, ["--operation", "publish", "--concurrency", "1", "--topic", `${topic}-p1`]);
      const pub16 = await load(t, ["--operation", "publish", "--concurrency", "16", "--topic", `${topic}-p16`]);
      const sub1 = await load(t, ["--operation", "subscribe", "--concurrency", "1", "--topic", `${topic}-s1`]);
      const sub16 = await load(t, ["--operation", "subscribe", "--concurrency", "16", "--topic", `${topic}-s16`]);
      const errs = [pub1, pub16, sub1, sub16].reduce((n, r) => n + Object.values(r.errors).reduce((a, b) => a + b, 0), 0);
      const lost = (sub1.lost ?? 0) + (sub16.lost ?? 0);
      rows.push(
        `| ${name} | ${via} | ${f(pub1.latencyMs.p50)} / ${f(pub1.latencyMs.p99)} | ${pub1.throughput.toFixed(0)} | ${f(pub16.latencyMs.p50)} / ${f(pub16.latencyMs.p99)} | ${pub16.throughput.toFixed(0)} | ${f(sub1.latencyMs.p50)} / ${f(sub1.latencyMs.p99)} | ${f(sub16.latencyMs.p50)} / ${f(sub16.latencyMs.p99)} | ${sub16.throughput.toFixed(0)} | ${errs} / ${lost} |`,
      );
      console.error(rows[rows.length - 1]);
    } finally {
      await t.close();
    }
  }
}
console.log(`pub/sub, 100-byte payloads, ${duration} per run after 1 s warm-up, closed loop; latencies in ms (p50 / p99)`);
console.log("| backend | via | publish c=1 | msg/s | publish c=16 | msg/s | publish→receive c=1 | publish→receive c=16 | received/s c=16 | errors / lost |");
console.log("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
for (const r of rows) console.log(r);
