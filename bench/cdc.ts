/**
 * CDC figures (issue 23): commit -> sink latency at a paced 1,000 row changes/s, and sustained changes/s captured
 * into Kafka. dist/cdc runs directly with a Kafka sink (one partition) and an in-process checkpoint, on a table and
 * slot of its own on the shared PostgreSQL (both dropped at the end). `make bench` runs it (bench/run.ts, section
 * cdc); alone:
 *
 *   bun bench/cdc.ts [--seconds 10] [--rate 1000] [--rows 100000] [--in-flight 512] [--sink kafka|memstore]
 *                    [--executable cdc]   (dist/<executable>: another build of the pattern, to compare two in one run)
 *
 * Latency of the paced phase, twice: from a change's commit to the sink's acknowledgement (the pattern's histogram
 * prism_cdc_commit_to_sink_seconds, so p50/p99 are bucket bounds), and from commit_time (PostgreSQL's clock, same
 * host) to the moment the event is read back through Subscribe (which reads the sink: the read path included). Throughput
 * is rows of 1,000-row transactions, committed as fast as one connection can, over the time from the first commit
 * to the last event acknowledged by the sink (GetStatus events_total), with the pattern's CPU time per change over
 * the same span (which, unlike changes/s, does not depend on how loaded the machine is).
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import pg from "pg";
import { CdcPattern } from "../proto/gen/prism/patterns/cdc/cdc_pattern_pb";
import { createClient } from "../sdk/grpc/client";
import { kafkaBrokers, postgresUrl } from "../tests/helpers/services";
import { startPattern } from "../tests/helpers/process";
import { freePort } from "../tests/nats/server";

export interface CdcBenchOptions {
  seconds: number;
  rate: number;
  rows: number;
  inFlight: number;
  sink: "kafka" | "memstore";
  executable: string;
}

export interface CdcBenchResult {
  sink: string;
  /** Changes committed in the paced phase, and the rate achieved. */
  pacedChanges: number;
  pacedRate: number;
  /** Upper bounds (ms) of the histogram buckets holding p50 / p99 of commit -> sink acknowledged; null = over 60 s. */
  commitToSinkP50Ms: number | null;
  commitToSinkP99Ms: number | null;
  readBackP50Ms: number;
  readBackP99Ms: number;
  sustainedRows: number;
  sustainedPerS: number;
  cpuUsPerChange: number;
  /** Set when the row could not run. */
  reason?: string;
}

const pct = (xs: number[], p: number) => xs[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))]!;

/** CPU time (user + system) a process has used, s. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
}

export async function measureCdc(o: CdcBenchOptions): Promise<CdcBenchResult> {
  const id = `bench_${randomBytes(3).toString("hex")}`;
  const table = `cdc_${id}`;
  const slot = `cdc_${id}`;
  const db = new pg.Client({ connectionString: postgresUrl() });
  await db.connect();
  await db.query(`CREATE TABLE "${table}" (id bigint PRIMARY KEY, payload text)`);
  const dir = mkdtempSync(join(tmpdir(), "prism-bench-cdc-"));
  const file = join(dir, "cdc.yaml");
  writeFileSync(
    file,
    JSON.stringify({
      namespace: id.replace(/_/g, "-"),
      tables: [{ name: table }],
      stream: "bench",
      max_in_flight: o.inFlight,
      slots: {
        source: { driver: "postgres_logical", config: { url: postgresUrl(), slot } },
        sink: o.sink === "memstore" ? { driver: "memstore" } : { driver: "kafka", config: { brokers: kafkaBrokers(), partitions: 1 } },
        state: { driver: "memstore" },
      },
    }),
  );
  const metricsPort = await freePort();
  let cdc: Awaited<ReturnType<typeof startPattern>> | undefined;
  let close = () => {};
  try {
    cdc = await startPattern(o.executable, ["--config", file, "--metrics-port", String(metricsPort)]);
    const pid = cdc.pid;
    /** A quantile of prism_cdc_commit_to_sink_seconds as the upper bound (ms) of the bucket it falls in. */
    const commitToSink = async (q: number): Promise<number | null> => {
      const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      const buckets = [...text.matchAll(/^prism_cdc_commit_to_sink_seconds_bucket\{le="([^"]+)"\} (\d+)/gm)].map((m) => ({ le: m[1]!, n: Number(m[2]) }));
      const total = buckets[buckets.length - 1]?.n ?? 0;
      const hit = buckets.find((b) => b.n >= total * q);
      return !hit || hit.le === "+Inf" ? null : Number(hit.le) * 1000;
    };
    const grpc = createClient(CdcPattern, cdc.address);
    const client = grpc.client;
    close = grpc.close;
    for (let i = 0; (await client.getStatus({})).state !== "streaming"; i++) {
      if (i > 300) throw new Error("cdc did not start streaming");
      await Bun.sleep(100);
    }
    // Paced phase: one single-row transaction every 1/rate s, latency per change.
    const latencies: number[] = [];
    const ac = new AbortController();
    const reading = (async () => {
      try {
        for await (const e of client.subscribe({ fromLsn: "" }, { signal: ac.signal })) {
          const commitMs = Number(e.commitTime!.seconds) * 1000 + e.commitTime!.nanos / 1e6;
          latencies.push(Date.now() - commitMs);
        }
      } catch {
        // aborted
      }
    })();
    const paced = Math.round(o.seconds * o.rate);
    const t0 = performance.now();
    const inFlight: Promise<unknown>[] = [];
    const pool = new pg.Pool({ connectionString: postgresUrl(), max: 8 });
    for (let i = 0; i < paced; i++) {
      const due = t0 + (i * 1000) / o.rate;
      const wait = due - performance.now();
      if (wait > 1) await Bun.sleep(wait);
      inFlight.push(pool.query(`INSERT INTO "${table}" VALUES ($1, 'x')`, [i]));
      if (inFlight.length >= 256) await Promise.all(inFlight.splice(0));
    }
    await Promise.all(inFlight);
    const pacedRate = paced / ((performance.now() - t0) / 1000);
    for (let i = 0; latencies.length < paced; i++) {
      if (i > 600) throw new Error(`only ${latencies.length} of ${paced} paced changes read back`);
      await Bun.sleep(100);
    }
    ac.abort();
    await reading;
    await pool.end();
    latencies.sort((a, b) => a - b);
    // Read before the sustained phase: the histogram is cumulative, and that phase's queueing is not the paced latency.
    const commitToSinkP50Ms = await commitToSink(0.5);
    const commitToSinkP99Ms = await commitToSink(0.99);

    // Sustained phase: 1,000-row transactions as fast as one connection commits them.
    const before = (await client.getStatus({})).eventsTotal;
    const s0 = performance.now();
    const cpu0 = cpuSeconds(pid);
    for (let i = 0; i < o.rows; i += 1000) {
      await db.query(`INSERT INTO "${table}" SELECT g, 'y' FROM generate_series($1::bigint, $1::bigint + 999) g`, [1_000_000 + i]);
    }
    for (let i = 0; (await client.getStatus({})).eventsTotal - before < BigInt(o.rows); i++) {
      if (i > 6_000) throw new Error(`the sustained phase's ${o.rows} changes did not all reach the sink in 5 min`);
      await Bun.sleep(50);
    }
    const capturedS = (performance.now() - s0) / 1000;
    return {
      sink: o.sink,
      pacedChanges: paced,
      pacedRate,
      commitToSinkP50Ms,
      commitToSinkP99Ms,
      readBackP50Ms: pct(latencies, 50),
      readBackP99Ms: pct(latencies, 99),
      sustainedRows: o.rows,
      sustainedPerS: o.rows / capturedS,
      cpuUsPerChange: ((cpuSeconds(pid) - cpu0) / o.rows) * 1e6,
    };
  } finally {
    close();
    await cdc?.stop();
    await db.query("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1", [slot]).catch(() => undefined);
    await db.query(`DROP PUBLICATION IF EXISTS "${slot}_pub"`);
    await db.query(`DROP TABLE IF EXISTS "${table}"`);
    await db.end();
    rmSync(dir, { recursive: true, force: true });
  }
}

const bound = (ms: number | null) => (ms === null ? "> 60 s" : `≤ ${ms} ms`);

/** The generated table of `make bench` (and of the CLI). */
export function cdcMarkdown(results: readonly CdcBenchResult[]): string {
  const lines = [
    "| sink | paced rate | commit → sink ack p50 | p99 | commit → read back (Subscribe) p50 | p99 | sustained changes/s | pattern CPU per change |",
    "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
  ];
  for (const r of results) {
    if (r.reason) {
      lines.push(`| ${r.sink} | not run: ${r.reason} | | | | | | |`);
      continue;
    }
    lines.push(
      `| ${r.sink} | ${r.pacedRate.toFixed(0)}/s over ${r.pacedChanges} | ${bound(r.commitToSinkP50Ms)} | ${bound(r.commitToSinkP99Ms)} | ${r.readBackP50Ms} ms | ${r.readBackP99Ms} ms | ${r.sustainedPerS.toFixed(0)} (${r.sustainedRows} rows) | ${r.cpuUsPerChange.toFixed(0)} µs |`,
    );
  }
  return `${lines.join("\n")}\n`;
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      seconds: { type: "string", default: "10" },
      rate: { type: "string", default: "1000" },
      rows: { type: "string", default: "100000" },
      "in-flight": { type: "string", default: "512" },
      sink: { type: "string", default: "kafka" },
      executable: { type: "string", default: "cdc" },
    },
  });
  const r = await measureCdc({
    seconds: Number(values.seconds),
    rate: Number(values.rate),
    rows: Number(values.rows),
    inFlight: Number(values["in-flight"]),
    sink: values.sink === "memstore" ? "memstore" : "kafka",
    executable: values.executable!,
  });
  process.stdout.write(cdcMarkdown([r]));
}
