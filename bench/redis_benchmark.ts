/** What redis-benchmark measured for GET (its own client, straight to Redis): the backend's ceiling. */
export interface RedisBenchmarkResult {
  command: string;
  throughput: number;
  latencyMs: { avg: number; p50: number; p95: number; p99: number; max: number };
}

/**
 * Runs redis-benchmark SET then GET over `keys` keys of `valueSize` bytes with
 * `clients` connections (one request in flight each: the same concurrency as
 * prism-load's calls in flight), and parses its CSV GET line.
 */
export async function redisBenchmark(opts: {
  host: string;
  port: number;
  clients: number;
  requests: number;
  valueSize: number;
  keys: number;
}): Promise<RedisBenchmarkResult> {
  const args = [
    "-h",
    opts.host,
    "-p",
    String(opts.port),
    "-c",
    String(opts.clients),
    "-n",
    String(opts.requests),
    "-d",
    String(opts.valueSize),
    "-r",
    String(opts.keys),
    "-t",
    "set,get",
    "--csv",
  ];
  const p = Bun.spawn(["redis-benchmark", ...args], { stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  const timer = setTimeout(() => p.kill("SIGKILL"), 120_000);
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  clearTimeout(timer);
  const line = out.split("\n").find((l) => l.startsWith('"GET"'));
  if (code !== 0 || !line) throw new Error(`redis-benchmark exited ${code}: ${(err || out).trim().slice(-400)}`);
  // "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms","p95_latency_ms","p99_latency_ms","max_latency_ms"
  const [, rps, avg, , p50, p95, p99, max] = line.split(",").map((f) => Number(f.replaceAll('"', "")));
  return { command: `redis-benchmark ${args.join(" ")}`, throughput: rps!, latencyMs: { avg: avg!, p50: p50!, p95: p95!, p99: p99!, max: max! } };
}
