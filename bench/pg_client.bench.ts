/**
 * Which PostgreSQL client the postgres pattern uses, by measurement: Bun's built-in `Bun.sql` against the `postgres`
 * npm package, the same statements (the pattern's get and upsert), the same pool size, the same concurrency, on the
 * server `make services` starts. Rounds alternate between the clients so machine load hits both alike.
 *
 *   ./node_modules/.bin/bun bench/pg_client.bench.ts [--seconds 3] [--rounds 3] [--pool 8] [--concurrency 64]
 */
import { SQL } from "bun";
import postgres from "postgres";
import { postgresUrl, requireService } from "../tests/helpers/services";

const arg = (name: string, dflt: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};
const SECONDS = arg("seconds", 3);
const ROUNDS = arg("rounds", 3);
const POOL = arg("pool", 8);
const CONCURRENCY = arg("concurrency", 64);
const KEYS = 1000;
const TABLE = "prism_bench_client";

interface Client {
  name: string;
  get(k: string): Promise<unknown>;
  set(k: string, v: Uint8Array): Promise<unknown>;
  close(): Promise<void>;
}

function bunClient(): Client {
  const sql = new SQL({ url: postgresUrl(), max: POOL });
  return {
    name: "Bun.sql",
    get: (k) => sql`select v from ${sql(TABLE)} where k = ${k}`,
    set: (k, v) => sql`insert into ${sql(TABLE)} (k, v) values (${k}, ${v}) on conflict (k) do update set v = excluded.v`,
    close: () => sql.close(),
  };
}

function npmClient(): Client {
  const sql = postgres(postgresUrl(), { max: POOL, prepare: true, onnotice: () => {} });
  return {
    name: "postgres (npm)",
    get: (k) => sql`select v from ${sql(TABLE)} where k = ${k}`,
    set: (k, v) => sql`insert into ${sql(TABLE)} (k, v) values (${k}, ${Buffer.from(v)}) on conflict (k) do update set v = excluded.v`,
    close: () => sql.end({ timeout: 5 }),
  };
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

async function run(c: Client, op: "get" | "set"): Promise<{ ops: number; p50: number; p99: number }> {
  const value = new Uint8Array(100).fill(7);
  const lat: number[] = [];
  const end = performance.now() + SECONDS * 1000;
  let i = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (performance.now() < end) {
        const k = `k${i++ % KEYS}`;
        const t0 = performance.now();
        await (op === "get" ? c.get(k) : c.set(k, value));
        lat.push(performance.now() - t0);
      }
    }),
  );
  lat.sort((a, b) => a - b);
  return { ops: lat.length / SECONDS, p50: pct(lat, 50), p99: pct(lat, 99) };
}

await requireService("postgres");
const setup = postgres(postgresUrl(), { max: 1, onnotice: () => {} });
await setup.unsafe(`create table if not exists ${TABLE} (k text primary key, v bytea not null)`);
await setup.unsafe(`insert into ${TABLE} select 'k' || g, decode(repeat('07', 100), 'hex') from generate_series(0, ${KEYS - 1}) g on conflict do nothing`);

const results = new Map<string, { ops: number; p50: number; p99: number }[]>();
for (let r = 0; r < ROUNDS; r++) {
  const order = r % 2 === 0 ? [bunClient, npmClient] : [npmClient, bunClient];
  for (const make of order) {
    const c = make();
    // Warm-up: open the pool, prepare the statements.
    await Promise.all(Array.from({ length: POOL * 4 }, (_, j) => c.get(`k${j}`)));
    for (const op of ["get", "set"] as const) {
      const key = `${c.name} ${op}`;
      results.set(key, [...(results.get(key) ?? []), await run(c, op)]);
    }
    await c.close();
  }
}
await setup.unsafe(`drop table ${TABLE}`);
await setup.end();

console.log(`pool ${POOL}, ${CONCURRENCY} calls in flight, ${SECONDS} s per run, 100-byte values over ${KEYS} keys; median of ${ROUNDS} rounds`);
console.log("| client | op | ops/s | p50 ms | p99 ms |");
console.log("| --- | --- | ---: | ---: | ---: |");
for (const [key, runs] of results) {
  const med = (f: (x: { ops: number; p50: number; p99: number }) => number) => runs.map(f).sort((a, b) => a - b)[Math.floor(runs.length / 2)]!;
  const [client, op] = [key.slice(0, key.lastIndexOf(" ")), key.slice(key.lastIndexOf(" ") + 1)];
  console.log(
    `| ${client} | ${op} | ${Math.round(med((x) => x.ops)).toLocaleString("en")} | ${med((x) => x.p50).toFixed(2)} | ${med((x) => x.p99).toFixed(2)} |`,
  );
}
