// make cluster-chaos: faults under load against `make cluster` (scripts/cluster/up.sh), through the three proxies
// with a grpc-js round_robin client. For each fault — a proxy, a pattern instance, a Redis master, a NATS node, a
// Kafka broker, each killed with SIGKILL — writers run before, during and after it; the run measures the error
// window (first to last failed write), the time until writes flow again by themselves (no step of this script
// heals anything before that), then restarts the killed process (up.sh, as an orchestrator would) and reads back
// every acknowledged write. Prints a table and writes it into docs/cluster.md (the cluster-chaos block).
// Not part of make test. Usage: bun scripts/cluster/chaos.ts [--no-docs]
import * as grpc from "@grpc/grpc-js";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { KeyValueBasicInterface } from "../../proto/gen/prism/interfaces/keyvalue/keyvalue_basic_pb";
import { StreamBasicInterface } from "../../proto/gen/prism/interfaces/stream/stream_basic_pb";
import { codeName } from "../../sdk/errors";
import { createClient } from "../../sdk/grpc/client";
import { PrismError } from "../../sdk/grpc/errors";
import { replaceBlock } from "../docs_markdown";

const ROOT = join(import.meta.dir, "../..");
const DATA = process.env.PRISM_CLUSTER_DATA ?? join(ROOT, ".cluster");
const PROXIES = ["127.0.0.1:8991", "127.0.0.1:8992", "127.0.0.1:8993"];
const ADMIN = ["http://127.0.0.1:9391", "http://127.0.0.1:9392", "http://127.0.0.1:9393"];
const WRITERS = 4;
const BEFORE_MS = 2_000;
/** Writes flowing again: this many successes in a row after the fault. */
const STREAK = 100;
const RECOVERY_BOUND_MS = 60_000;
const DEADLINE_MS = 5_000;

const channel = new grpc.Client(`ipv4:${PROXIES.join(",")}`, grpc.credentials.createInsecure(), {
  "grpc.service_config": JSON.stringify({ loadBalancingConfig: [{ round_robin: {} }] }),
});
const kv = createClient(KeyValueBasicInterface, channel).client;
const stream = createClient(StreamBasicInterface, channel).client;
const enc = new TextEncoder();
const dec = new TextDecoder();
const run = Date.now().toString(36);

interface Acked {
  id: string;
  partition: number;
  offset: bigint;
}

interface Fault {
  name: string;
  namespace: "kv" | "events" | "log";
  /** Kills something; returns what to say about it. */
  inject(): Promise<string>;
}

interface Result {
  fault: string;
  namespace: string;
  acked: number;
  /** Failed writes from the fault on. */
  failed: number;
  /** Failed writes before it (a backend still settling from the previous fault shows here). */
  failedBefore: number;
  codes: string;
  windowMs: number;
  recoveredMs: number | undefined;
  lost: number;
}

const md = (ns: string) => ({ metadata: { "x-prism-namespace": ns }, timeoutMs: DEADLINE_MS });
const pidOf = (file: string) => Number(readFileSync(join(DATA, file), "utf8").trim());
const sh = (cmd: string[]) => {
  const p = Bun.spawnSync(cmd, { cwd: ROOT, stderr: "pipe", stdout: "pipe" });
  if (p.exitCode !== 0) throw new Error(`${cmd.join(" ")} failed:\n${p.stderr.toString().slice(-2000)}`);
  return p.stdout.toString();
};

async function write(ns: Fault["namespace"], id: string): Promise<Acked> {
  if (ns === "kv") {
    await kv.set({ key: `chaos:${id}`, value: enc.encode(id) }, md(ns));
    return { id, partition: 0, offset: 0n };
  }
  const r = await stream.append({ stream: `chaos-${run}`, payload: enc.encode(id), key: id }, md(ns));
  return { id, partition: r.partition, offset: r.offset };
}

/** Reads back every acknowledged write; returns how many are missing. */
async function lost(ns: Fault["namespace"], acked: Acked[]): Promise<number> {
  if (ns === "kv") {
    let missing = 0;
    for (let i = 0; i < acked.length; i += 64) {
      const got = await Promise.all(acked.slice(i, i + 64).map((a) => kv.get({ key: `chaos:${a.id}` }, md(ns))));
      for (const [j, g] of got.entries()) if (!g.found || dec.decode(g.value) !== acked[i + j]!.id) missing++;
    }
    return missing;
  }
  const byPartition = new Map<number, Acked[]>();
  for (const a of acked) byPartition.set(a.partition, [...(byPartition.get(a.partition) ?? []), a]);
  const seen = new Set<string>();
  for (const [partition, list] of byPartition) {
    const offsets = list.map((a) => Number(a.offset));
    const from = Math.min(...offsets);
    const to = Math.max(...offsets);
    for await (const r of stream.read(
      { stream: `chaos-${run}`, partition, fromOffset: BigInt(from), maxRecords: to - from + 1 },
      { ...md(ns), timeoutMs: 30_000 },
    )) {
      seen.add(dec.decode(r.payload));
    }
  }
  return acked.filter((a) => !seen.has(a.id)).length;
}

async function phase(f: Fault): Promise<Result> {
  const acked: Acked[] = [];
  const failures: { at: number; code: number }[] = [];
  let faultAt = Number.POSITIVE_INFINITY;
  let streak = 0;
  let recoveredAt: number | undefined;
  let running = true;
  const writers = Array.from({ length: WRITERS }, async (_, w) => {
    for (let i = 0; running; i++) {
      const id = `${f.name.replace(/\W+/g, "-")}-${run}-${w}-${i}`;
      try {
        acked.push(await write(f.namespace, id));
        if (Date.now() > faultAt && ++streak >= STREAK && recoveredAt === undefined) recoveredAt = Date.now();
      } catch (err) {
        failures.push({ at: Date.now(), code: PrismError.from(err).code });
        streak = 0;
        if (recoveredAt !== undefined && Date.now() > faultAt) recoveredAt = undefined;
        await Bun.sleep(20);
      }
    }
  });
  await Bun.sleep(BEFORE_MS);
  const what = await f.inject();
  faultAt = Date.now();
  streak = 0;
  console.log(`${f.name}: ${what}`);
  const bound = Date.now() + RECOVERY_BOUND_MS;
  // Writes go on for at least 3 s after the fault, then until they have flowed again for STREAK calls.
  while ((recoveredAt === undefined || Date.now() < faultAt + 3_000) && Date.now() < bound) await Bun.sleep(50);
  running = false;
  await Promise.all(writers);
  // An orchestrator restarts what was killed; only then are the writes read back (through every proxy again).
  sh(["bash", "scripts/cluster/up.sh"]);
  // faultAt is taken once the kill returned: a write failing while it was being sent counts as after it.
  const after = failures.filter((x) => x.at >= faultAt - 100);
  return {
    fault: f.name,
    namespace: f.namespace,
    acked: acked.length,
    failed: after.length,
    failedBefore: failures.length - after.length,
    codes: [...new Set(after.map((x) => codeName(x.code)))].join(", ") || "–",
    windowMs: after.length > 0 ? after[after.length - 1]!.at - after[0]!.at : 0,
    recoveredMs: recoveredAt === undefined ? undefined : recoveredAt - faultAt,
    lost: await lost(f.namespace, acked),
  };
}

async function patterns(admin: string): Promise<{ namespace: string; replicas: { pid: number | null; ready: boolean }[] }[]> {
  return (await (await fetch(`${admin}/patterns`)).json()) as never;
}

function redisMaster(): { port: number; pid: number } {
  const nodes = sh(["redis-cli", "-p", "7100", "cluster", "nodes"]);
  const line = nodes.split("\n").find((l) => l.includes("master") && !l.includes("fail") && / \d+-\d+/.test(l));
  if (!line) throw new Error(`no master in:\n${nodes}`);
  const port = Number(/:(\d+)@/.exec(line)![1]);
  return { port, pid: pidOf(`redis/${port}/redis.pid`) };
}

const FAULTS: Fault[] = [
  {
    name: "proxy killed",
    namespace: "kv",
    inject: async () => {
      const pid = pidOf("proxy/p2/proxy.pid");
      process.kill(pid, "SIGKILL");
      return `SIGKILL proxy 2 (pid ${pid})`;
    },
  },
  {
    name: "pattern instance killed",
    namespace: "kv",
    inject: async () => {
      const pid = (await patterns(ADMIN[0]!)).find((n) => n.namespace === "kv")!.replicas[0]!.pid!;
      process.kill(pid, "SIGKILL");
      return `SIGKILL kv instance 0 of proxy 1 (pid ${pid}); its proxy restarts it`;
    },
  },
  {
    name: "Redis master killed",
    namespace: "kv",
    inject: async () => {
      const m = redisMaster();
      process.kill(m.pid, "SIGKILL");
      return `SIGKILL Redis master 127.0.0.1:${m.port} (pid ${m.pid}); its replica takes over`;
    },
  },
  {
    name: "NATS node killed",
    namespace: "events",
    inject: async () => {
      const pid = pidOf("nats/n2/nats.pid");
      process.kill(pid, "SIGKILL");
      return `SIGKILL NATS node 2 (pid ${pid}); JetStream R3 keeps a quorum of 2`;
    },
  },
  {
    name: "Kafka broker killed",
    namespace: "log",
    inject: async () => {
      const pid = pidOf("kafka/b2/kafka.pid");
      process.kill(pid, "SIGKILL");
      return `SIGKILL Kafka broker 2 (pid ${pid}); min.insync.replicas 2 of 3 still met`;
    },
  },
];

const results: Result[] = [];
for (const f of FAULTS) results.push(await phase(f));
channel.close();

const rows = results.map(
  (r) =>
    `| ${r.fault} | \`${r.namespace}\` | ${r.acked} | ${r.failedBefore} | ${r.failed} (${r.codes}) | ${r.windowMs} | ${r.recoveredMs ?? `not within ${RECOVERY_BOUND_MS}`} | ${r.lost} |`,
);
const table = [
  `Written by \`make cluster-chaos\` (scripts/cluster/chaos.ts) on ${new Date().toISOString().slice(0, 10)}: ${WRITERS} writers through the three proxies (grpc-js round_robin); each fault is a SIGKILL.`,
  "",
  "| fault | namespace | writes acknowledged | failed before the fault | failed from the fault (codes) | error window ms | writes flowing again after ms | acknowledged writes lost |",
  "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
  ...rows,
  "",
].join("\n");
console.log(table);
if (!process.argv.includes("--no-docs")) {
  const doc = join(ROOT, "docs/cluster.md");
  writeFileSync(doc, replaceBlock(readFileSync(doc, "utf8"), "cluster-chaos", table));
  console.log("wrote docs/cluster.md");
}
const bad = results.filter((r) => r.recoveredMs === undefined);
process.exit(bad.length > 0 ? 1 : 0);
