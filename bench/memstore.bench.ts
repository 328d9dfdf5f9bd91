// In-process benchmark of the in-memory store: ns/op of the raw driver and of the
// same driver wrapped by the SDK's instrumentDriver (driver_operation_* metrics,
// no tracing), so the cost of observability is visible. Then, when dist/memstore
// exists, its process figures: startup to listening, size, idle RSS.
// Prints Markdown tables. Run: ./node_modules/.bin/bun bench/memstore.bench.ts   (or `make bench`)
import { existsSync, readFileSync, statSync } from "node:fs";
import { cpus } from "node:os";
import { resolve } from "node:path";
import { KeyValueBatchInterface } from "../proto/gen/prism/interfaces/keyvalue/keyvalue_batch_pb";
import { createClient } from "../sdk/grpc/client";
import { Registry } from "prom-client";
import type { ScanOptions } from "../sdk/drivers/interfaces";
import { DriverMetrics, instrumentDriver } from "../sdk/drivers/instrument";
import { DEFAULT_MEMSTORE_CONFIG, MemStore } from "../memstore/memstore";
import { memstorePattern } from "../memstore/pattern";

const KEYS = 10_000; // the default max_keys
const VALUE = new Uint8Array(100).fill(42);
const ROUNDS = 7;
const TARGET_ROUND_NS = 50e6; // each round runs ~50 ms

const keys = Array.from({ length: KEYS }, (_, i) => `user:${(i * 7919) % KEYS}:profile`);
const missing = keys.map((k) => `${k}:missing`);
const never = new AbortController().signal;

type Store = MemStore;
/** One operation on the i-th key; returns something so the work cannot be optimised away. */
type Op = (s: Store, i: number) => unknown;

/** Each operation starts from the store filled without TTLs, unless `ttl` refills it with one. */
const ops: { name: string; op: Op; ttl?: number }[] = [
  { name: "get (hit)", op: (s, i) => s.get(keys[i % KEYS]!) },
  { name: "get (hit, key has a TTL)", op: (s, i) => s.get(keys[i % KEYS]!), ttl: 3600 },
  { name: "get (miss)", op: (s, i) => s.get(missing[i % KEYS]!) },
  { name: "set (overwrite)", op: (s, i) => s.set(keys[i % KEYS]!, VALUE, 0) },
  { name: "set with TTL (overwrite, 60 s)", op: (s, i) => s.set(keys[i % KEYS]!, VALUE, 60) },
  { name: "exists", op: (s, i) => s.exists(keys[i % KEYS]!) },
  // Delete then re-insert, so every delete finds its key; reported per pair.
  { name: "delete + set (new key)", op: (s, i) => (s.delete(keys[i % KEYS]!), s.set(keys[i % KEYS]!, VALUE, 0)) },
  {
    name: "scan page (100 entries with values)",
    op: (s, i) => {
      const opts: ScanOptions = { prefix: "user:", limit: 100, cursor: keys[(i * 31) % KEYS]!, withValues: true, signal: never };
      let n = 0;
      for (const _ of s.scan(opts)) n++;
      return n;
    },
  },
  { name: "count (prefix, 1/10 of keys)", op: (s, i) => s.count(`user:${i % 10}`) },
  // Last: it leaves keys other than `keys` in the store. Each op deletes the oldest key and sets a never-seen one
  // (the count stays at max_keys), then reads a page, as a scanner does while writers add keys.
  { name: "interleaved set (new key) + scan page (100 entries with values)", op: (s, i) => (replaceOldest(s), scanPage(s, i)) },
];

/** Per store, the keys it holds in insertion order (a ring), for replacing the oldest with a new key. */
const rings = new Map<Store, { keys: string[]; next: number; seq: number }>();

function replaceOldest(s: Store): void {
  let r = rings.get(s);
  if (r === undefined) rings.set(s, (r = { keys: [...keys], next: 0, seq: 0 }));
  s.delete(r.keys[r.next]!);
  const fresh = `user:${r.seq++}:new`;
  s.set(fresh, VALUE, 0);
  r.keys[r.next] = fresh;
  r.next = (r.next + 1) % KEYS;
}

function scanPage(s: Store, i: number): number {
  const opts: ScanOptions = { prefix: "user:", limit: 100, cursor: keys[(i * 31) % KEYS]!, withValues: true, signal: never };
  let n = 0;
  for (const _ of s.scan(opts)) n++;
  return n;
}

function fill(s: Store, ttl = 0): void {
  for (const k of keys) s.set(k, VALUE, ttl);
}

let sink = 0;

/** Runs `op` n times and returns elapsed ns. */
function timeLoop(s: Store, op: Op, n: number, offset: number): number {
  const start = Bun.nanoseconds();
  for (let i = 0; i < n; i++) {
    if (op(s, offset + i) === sink) sink++;
  }
  return Bun.nanoseconds() - start;
}

/**
 * ns/op over ROUNDS rounds after a warm-up that also sizes the rounds: the best
 * round (other processes only ever add time) and the median.
 */
function measure(s: Store, op: Op): { best: number; median: number } {
  let n = 1000;
  // Warm-up (JIT tiers) and calibration: grow n until a round takes long enough.
  for (;;) {
    const ns = timeLoop(s, op, n, 0);
    if (ns > TARGET_ROUND_NS / 4 || n >= 1 << 24) {
      n = Math.max(1000, Math.round((n * TARGET_ROUND_NS) / Math.max(ns, 1)));
      break;
    }
    n *= 4;
  }
  const perOp: number[] = [];
  for (let r = 0; r < ROUNDS; r++) perOp.push(timeLoop(s, op, n, r * n) / n);
  perOp.sort((a, b) => a - b);
  return { best: perOp[0]!, median: perOp[Math.floor(ROUNDS / 2)]! };
}

function stores(): { raw: Store; instrumented: Store } {
  const raw = new MemStore({ ...DEFAULT_MEMSTORE_CONFIG, maxKeys: KEYS });
  const base = new MemStore({ ...DEFAULT_MEMSTORE_CONFIG, maxKeys: KEYS });
  const methods = memstorePattern.bindings.flatMap((b) => b.driverMethods);
  const metrics = new DriverMetrics(new Registry());
  const instrumented = instrumentDriver(base, methods, { driver: "memstore", dbSystem: "memstore", metrics });
  return { raw, instrumented };
}

const fmt = (ns: number) => (ns >= 1000 ? `${(ns / 1000).toFixed(2)} µs` : `${ns.toFixed(0)} ns`);

const { raw, instrumented } = stores();
const rows: string[] = [];
for (const { name, op, ttl } of ops) {
  for (const s of [raw, instrumented]) {
    for (const k of keys) s.delete(k);
    fill(s, ttl);
  }
  const r = measure(raw, op);
  const w = measure(instrumented, op);
  rows.push(`| ${name} | ${fmt(r.best)} (${fmt(r.median)}) | ${fmt(w.best)} (${fmt(w.median)}) | +${fmt(Math.max(0, w.best - r.best))} |`);
}
await raw.close();
await instrumented.close();

const cpu = cpus()[0]?.model ?? "unknown CPU";
console.log(`### memstore in-process ns/op (${KEYS} keys, 100-byte values; best (median) of ${ROUNDS} rounds of ~${TARGET_ROUND_NS / 1e6} ms)`);
console.log(`Bun ${Bun.version}, ${cpus().length} × ${cpu}. Instrumented = wrapped by instrumentDriver (driver_operation_* metrics, no tracing).\n`);
console.log("| operation | raw store | instrumented | cost of observability (best) |");
console.log("| --- | ---: | ---: | ---: |");
for (const r of rows) console.log(r);
if (sink === -1) console.log(sink);

// --- dist/memstore as a process -------------------------------------------------

const EXE = resolve(import.meta.dir, "../dist/memstore");
const STARTS = 10;

/** Resident set size of a process in MB, from /proc/<pid>/status. */
function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** Spawns dist/memstore and resolves once it prints its address, with the ms that took. */
async function start(): Promise<{ proc: ReturnType<typeof Bun.spawn>; ms: number; address: string }> {
  const t0 = performance.now();
  const proc = Bun.spawn([EXE, "--grpc-port", "0"], { stdout: "pipe", stderr: "ignore", stdin: "ignore" });
  const decoder = new TextDecoder();
  let out = "";
  for await (const chunk of proc.stdout as ReadableStream<Uint8Array>) {
    out += decoder.decode(chunk, { stream: true });
    const m = /grpc listening on (\S+)/.exec(out);
    if (m) return { proc, ms: performance.now() - t0, address: m[1]! };
  }
  throw new Error(`dist/memstore exited before listening: ${out}`);
}

async function stop(proc: ReturnType<typeof Bun.spawn>): Promise<void> {
  proc.kill("SIGTERM");
  await proc.exited;
}

if (existsSync(EXE)) {
  const times: number[] = [];
  for (let i = 0; i < STARTS; i++) {
    const { proc, ms } = await start();
    times.push(ms);
    await stop(proc);
  }
  times.sort((a, b) => a - b);
  const { proc, address } = await start();
  await Bun.sleep(1000);
  const idle = rssMb(proc.pid);
  const batch = createClient(KeyValueBatchInterface, address);
  for (let b = 0; b < KEYS / 1000; b++) {
    await batch.client.batchSet({ requests: keys.slice(b * 1000, (b + 1) * 1000).map((key) => ({ key, value: VALUE })) });
  }
  batch.close();
  await Bun.sleep(500);
  const loaded = rssMb(proc.pid);
  await stop(proc);
  console.log(`\n### dist/memstore process (${STARTS} starts, spawn to "grpc listening" on stdout)\n`);
  console.log("| figure | value |");
  console.log("| --- | ---: |");
  console.log(`| startup to listening, median (min–max) | ${times[STARTS >> 1]!.toFixed(0)} ms (${times[0]!.toFixed(0)}–${times.at(-1)!.toFixed(0)} ms) |`);
  console.log(`| executable size | ${(statSync(EXE).size / 1e6).toFixed(1)} MB |`);
  console.log(`| RSS idle, 1 s after start | ${idle.toFixed(1)} MB |`);
  console.log(`| RSS with ${KEYS} keys of ${VALUE.length} bytes (set over gRPC) | ${loaded.toFixed(1)} MB |`);
} else {
  console.log("\n(dist/memstore not built: run `make build-plugins` for the process figures)");
}
