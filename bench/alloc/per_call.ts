// Bytes allocated on the JavaScript heap per call: per Get served by the memstore pattern (direct, its TCP listener
// and HTTP/2 guard included) and per Get forwarded by the proxy (to dist/memstore), each server run from its sources
// with the collector off (BUN_JSC_useGC=false) and bench/alloc/probe.ts preloaded, so its heap size only grows, by
// every byte allocated. Timing plays no part: the figure is a count, steady once the JIT has warmed up.
//   bun bench/alloc/per_call.ts [--subject memstore|proxy|both] [--calls 1500] [--rounds 3] [--concurrency 4]
// Per round: snapshot, prism-load making `base` calls, snapshot, prism-load making `base + calls` calls, snapshot;
// bytes per call = (second span − first span) / calls, which cancels what a prism-load run costs the server
// whatever its length (two connections, the key pre-load). The figure is the median of the rounds.
import { parseArgs } from "node:util";
import { ROOT, startProcess, type StartedProcess } from "../../tests/helpers/process";
import { BUN } from "../processes";

export type AllocSubject = "memstore" | "proxy";

export interface AllocOptions {
  /** Calls per measured span (the difference of the two runs). */
  calls: number;
  rounds: number;
  concurrency: number;
  /** Calls before the first round, for the JIT to warm up. */
  warmup: number;
  /** Extra environment of the server (e.g. PRISM_H2_GUARD=0, to see what the HTTP/2 guard allocates). */
  env?: Record<string, string>;
}

export interface AllocResult {
  subject: AllocSubject;
  /** Median over the rounds. */
  bytesPerCall: number;
  rounds: number[];
  options: AllocOptions;
}

export const DEFAULT_ALLOC: AllocOptions = { calls: 1500, rounds: 3, concurrency: 4, warmup: 2000 };
/** The calls of each round's first, shorter run. */
const BASE_CALLS = 300;
const KEYS = 100;

const ENTRY: Record<AllocSubject, string[]> = {
  memstore: [`${ROOT}/memstore/main.ts`, "--grpc-port", "0"],
  // The proxy launches dist/memstore (patterns_dir ./dist of the bench config); only the proxy is probed.
  proxy: [`${ROOT}/proxy/main.ts`, "--config", "bench/configs/proxy-memstore.yaml"],
};
const LISTENING: Record<AllocSubject, RegExp> = { memstore: /grpc listening on (\S+)/, proxy: /prism proxy listening on (\S+)/ };

/** The server of `subject` from its sources, collector off, probe preloaded; resolves with its address once it serves. */
async function startProbed(subject: AllocSubject, env: Record<string, string> = {}): Promise<{ server: StartedProcess; address: string }> {
  const server = startProcess([BUN, "--preload", `${ROOT}/bench/alloc/probe.ts`, ...ENTRY[subject]], { env: { ...env, BUN_JSC_useGC: "false" } });
  try {
    const address = (await server.waitFor(LISTENING[subject], 60_000))[1]!;
    return { server, address };
  } catch (err) {
    await server.stop(2_000);
    throw err;
  }
}

/** Runs dist/prism-load for exactly `requests` Gets (closed loop), after its pre-load of the keys. */
async function load(subject: AllocSubject, address: string, requests: number, concurrency: number): Promise<void> {
  const args = [subject === "proxy" ? "--proxy" : "--direct", address, "--operation", "get", "--requests", String(requests)];
  const p = Bun.spawn(
    [`${ROOT}/dist/prism-load`, ...args, "--concurrency", String(concurrency), "--warmup", "0s", "--keys", String(KEYS), "--progress", "never"],
    {
      stdout: "pipe",
      stderr: "pipe",
      stdin: "ignore",
    },
  );
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  if (code !== 0 || !new RegExp(`\\b${requests} ok, 0 errors`).test(out + err))
    throw new Error(`prism-load ${args.join(" ")} exited ${code} without ${requests} ok calls: ${(err || out).slice(-600)}`);
}

export async function measureAllocPerCall(subject: AllocSubject, options: Partial<AllocOptions> = {}): Promise<AllocResult> {
  const o = { ...DEFAULT_ALLOC, ...options };
  const { server, address } = await startProbed(subject, o.env);
  let seq = 0;
  const heapBytes = async () => {
    seq++;
    process.kill(server.pid, "SIGUSR2");
    return Number((await server.waitFor(new RegExp(`alloc-probe ${seq} (\\d+)`), 10_000))[1]);
  };
  try {
    if (o.warmup > 0) await load(subject, address, o.warmup, o.concurrency);
    const rounds: number[] = [];
    for (let r = 0; r < o.rounds; r++) {
      const a = await heapBytes();
      await load(subject, address, BASE_CALLS, o.concurrency);
      const b = await heapBytes();
      await load(subject, address, BASE_CALLS + o.calls, o.concurrency);
      const c = await heapBytes();
      rounds.push((c - b - (b - a)) / o.calls);
    }
    const sorted = [...rounds].sort((x, y) => x - y);
    return { subject, bytesPerCall: sorted[Math.floor(sorted.length / 2)]!, rounds, options: o };
  } finally {
    await server.stop(10_000);
  }
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      subject: { type: "string", default: "both" },
      calls: { type: "string", default: String(DEFAULT_ALLOC.calls) },
      rounds: { type: "string", default: String(DEFAULT_ALLOC.rounds) },
      concurrency: { type: "string", default: String(DEFAULT_ALLOC.concurrency) },
      /** NAME=VALUE for the server's environment (repeatable). */
      env: { type: "string", multiple: true, default: [] },
    },
  });
  const env = Object.fromEntries(values.env!.map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]));
  const subjects: AllocSubject[] = values.subject === "both" ? ["memstore", "proxy"] : [values.subject as AllocSubject];
  for (const s of subjects) {
    const r = await measureAllocPerCall(s, { calls: Number(values.calls), rounds: Number(values.rounds), concurrency: Number(values.concurrency), env });
    console.log(`${s}: ${Math.round(r.bytesPerCall)} heap bytes allocated per call (rounds: ${r.rounds.map(Math.round).join(", ")})`);
  }
}
