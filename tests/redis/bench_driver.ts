/**
 * Redis driver cost without gRPC: 50 calls in flight, 100-byte values, through RedisDriver (prefix, breaker,
 * retry, error mapping) and through a bare ioredis client with the same options, to compare with
 * redis-benchmark. Usage: bun tests/redis/bench_driver.ts [host:port] [requests]
 */
import { Redis } from "ioredis";
import { parseRedisConfig } from "../../redis/config";
import { RedisDriver } from "../../redis/driver";
import { createLogger } from "../../sdk/observability/logger";

const address = process.argv[2] ?? "127.0.0.1:6379";
const requests = Number(process.argv[3] ?? 200_000);
const IN_FLIGHT = 50;
const value = new Uint8Array(100).fill(120);

async function run(label: string, op: (i: number) => Promise<unknown>): Promise<void> {
  const lat = new Float64Array(requests);
  let next = 0;
  const start = performance.now();
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      for (let i = next++; i < requests; i = next++) {
        const t = performance.now();
        await op(i);
        lat[i] = performance.now() - t;
      }
    }),
  );
  const secs = (performance.now() - start) / 1000;
  lat.sort();
  const q = (p: number) => lat[Math.min(requests - 1, Math.floor(p * requests))]!.toFixed(3);
  console.log(`${label.padEnd(22)} ${String(Math.round(requests / secs)).padStart(7)} ops/s  p50 ${q(0.5)} ms  p99 ${q(0.99)} ms`);
}

const driver = new RedisDriver(
  parseRedisConfig({ address }, { configFile: "bench", namespace: "bench" }),
  createLogger({ level: "warn", format: "json", fields: {} }),
);
if (!(await driver.connected(2000))) throw new Error(`redis at ${address} is not reachable`);
const raw = new Redis(`redis://${address}`, { enableAutoPipelining: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, commandTimeout: 1000 });
await new Promise((r) => raw.once("ready", r));
const buf = Buffer.from(value);
const key = (i: number) => `k${i % 1000}`;

await run("ioredis SET", (i) => raw.set(`bench:${key(i)}`, buf));
await run("ioredis GET", (i) => raw.getBuffer(`bench:${key(i)}`));
await run("RedisDriver set", (i) => driver.set(key(i), value, 0));
await run("RedisDriver get", (i) => driver.get(key(i)));
raw.disconnect();
await driver.close();
