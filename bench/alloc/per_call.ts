// Bytes allocated on the JavaScript heap per call: per Get served by the memstore pattern (direct, its TCP listener
// and HTTP/2 guard included) and per Get forwarded by the proxy (to dist/memstore), each server run from its sources
// with the collector off (BUN_JSC_useGC=false) and bench/alloc/probe.ts preloaded, so its heap size only grows, by
// every byte allocated. Timing plays no part: the figure is a count, steady once the JIT has warmed up.
//   bun bench/alloc/per_call.ts [--subject memstore|proxy|both] [--calls 1500] [--rounds 3] [--concurrency 4] [--types 12] [--env K=V] [--metadata K=V]
// Per round: snapshot, prism-load making `base` calls, snapshot, prism-load making `base + calls` calls, snapshot;
// bytes per call = (second span − first span) / calls, which cancels what a prism-load run costs the server
// whatever its length (two connections, the key pre-load). The figure is the median of the rounds. Objects per call
// (heap cells of every type, from bun:jsc heapStats) are counted the same way, and listed by type.
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
  /** KEY=VALUE metadata prism-load sends on every call (e.g. a traceparent). */
  metadata?: string[];
}

export interface AllocResult {
  subject: AllocSubject;
  /** Median over the rounds. */
  bytesPerCall: number;
  rounds: number[];
  /** Heap cells (objects, strings, arrays, closures…) allocated per call, all types: median over the rounds. */
  objectsPerCall: number;
  /** Cells allocated per call by type (bun:jsc heapStats().objectTypeCounts), from the round of the median object count. */
  objectsPerCallByType: Record<string, number>;
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
async function load(subject: AllocSubject, address: string, requests: number, concurrency: number, metadata: string[] = []): Promise<void> {
  const args = [
    subject === "proxy" ? "--proxy" : "--direct",
    address,
    "--operation",
    "get",
    "--requests",
    String(requests),
    ...metadata.flatMap((m) => ["--metadata", m]),
  ];
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
  const snapshot = async (): Promise<{ bytes: number; types: Record<string, number> }> => {
    seq++;
    process.kill(server.pid, "SIGUSR2");
    const bytes = Number((await server.waitFor(new RegExp(`alloc-probe ${seq} (\\d+)`), 10_000))[1]);
    const types = JSON.parse((await server.waitFor(new RegExp(`alloc-types ${seq} (\\{.*\\})`), 10_000))[1]!) as Record<string, number>;
    return { bytes, types };
  };
  try {
    if (o.warmup > 0) await load(subject, address, o.warmup, o.concurrency, o.metadata);
    const rounds: number[] = [];
    const typeRounds: Record<string, number>[] = [];
    for (let r = 0; r < o.rounds; r++) {
      const a = await snapshot();
      await load(subject, address, BASE_CALLS, o.concurrency, o.metadata);
      const b = await snapshot();
      await load(subject, address, BASE_CALLS + o.calls, o.concurrency, o.metadata);
      const c = await snapshot();
      rounds.push((c.bytes - b.bytes - (b.bytes - a.bytes)) / o.calls);
      const perType: Record<string, number> = {};
      for (const t of new Set([...Object.keys(a.types), ...Object.keys(c.types)])) {
        const n = ((c.types[t] ?? 0) - (b.types[t] ?? 0) - ((b.types[t] ?? 0) - (a.types[t] ?? 0))) / o.calls;
        if (n !== 0) perType[t] = n;
      }
      typeRounds.push(perType);
    }
    const median = <T>(xs: T[], key: (x: T) => number) => [...xs].sort((x, y) => key(x) - key(y))[Math.floor(xs.length / 2)]!;
    const total = (t: Record<string, number>) => Object.values(t).reduce((s, n) => s + n, 0);
    const byType = median(typeRounds, total);
    return { subject, bytesPerCall: median(rounds, (x) => x), rounds, objectsPerCall: total(byType), objectsPerCallByType: byType, options: o };
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
      /** KEY=VALUE metadata on every call (repeatable), e.g. traceparent=00-<trace id>-<span id>-00. */
      metadata: { type: "string", multiple: true, default: [] },
      /** How many of the types allocating most per call to list. */
      types: { type: "string", default: "12" },
    },
  });
  const env = Object.fromEntries(values.env!.map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]));
  const subjects: AllocSubject[] = values.subject === "both" ? ["memstore", "proxy"] : [values.subject as AllocSubject];
  for (const s of subjects) {
    const r = await measureAllocPerCall(s, {
      calls: Number(values.calls),
      rounds: Number(values.rounds),
      concurrency: Number(values.concurrency),
      env,
      metadata: values.metadata,
    });
    console.log(`${s}: ${Math.round(r.bytesPerCall)} heap bytes allocated per call (rounds: ${r.rounds.map(Math.round).join(", ")})`);
    const top = Object.entries(r.objectsPerCallByType)
      .sort((x, y) => y[1] - x[1])
      .slice(0, Number(values.types));
    console.log(`${s}: ${r.objectsPerCall.toFixed(1)} heap objects allocated per call; most: ${top.map(([t, n]) => `${t} ${n.toFixed(1)}`).join(", ")}`);
  }
}
