// The queue pattern's bench rows (issue 21 item 5): publish throughput (PublishBatch), consume+ack throughput
// (consumers of one group draining the backlog, acks batched), and publish→delivery latency p50/p99 at a moderate
// rate, for one backend, direct or through dist/proxy. `make bench` runs it per backend (bench/run.ts, section
// `queue`); alone it prints one JSON object:
//   bun bench/queue_throughput.ts [--backend memstore|redis|postgres|nats|kafka] [--via direct|proxy] [--messages 20000]
//     [--consumers 4] [--rate 1000] [--seconds 5]
// Needs dist/queue (and dist/proxy for --via proxy).
import { cpus } from "node:os";
import { parseArgs } from "node:util";
import { ConsumerPattern } from "../proto/gen/prism/patterns/consumer/consumer_pattern_pb";
import { ProducerPattern } from "../proto/gen/prism/patterns/producer/producer_pattern_pb";
import { createClient } from "../sdk/grpc/client";
import { BACKENDS } from "../tests/queue/backends";
import { kafka } from "../tests/queue/kafka_backend";
import { directTarget, proxyTarget } from "../tests/queue/targets";
import { machineCpuSeconds } from "./processes";

export interface QueueBenchOptions {
  backend: string;
  via: "direct" | "proxy";
  messages: number;
  consumers: number;
  rate: number;
  seconds: number;
}

export interface QueueBenchResult {
  backend: string;
  via: string;
  messages: number;
  consumers: number;
  publishPerS: number;
  consumeAckPerS: number;
  latency: { rate: number; delivered: number; sent: number; p50Ms: number; p99Ms: number; cpu?: PacedCpu };
  /** Why the row did not run (or stopped). */
  reason?: string;
}

/**
 * CPU in cores busy over the paced phase: the whole machine's (every process: pattern, proxy, backend, this
 * client, anyone else) out of its `cores`, and this client's own. A p99 measured with the machine near
 * `cores` busy is the machine's queueing as much as the path's.
 */
export interface PacedCpu {
  machineBusy: number;
  cores: number;
  client: number;
}

/** The machine's busy and idle CPU seconds (bench/processes.ts); undefined where /proc/stat cannot be read. */
function machineCpu(): { busy: number; idle: number } | undefined {
  try {
    return machineCpuSeconds();
  } catch {
    return undefined;
  }
}

/** Starts counting; the returned function gives the cores busy since (undefined where /proc/stat is not). */
function pacedCpu(): () => PacedCpu | undefined {
  const m0 = machineCpu();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  return () => {
    const m1 = machineCpu();
    const c = process.cpuUsage(c0);
    const seconds = (performance.now() - t0) / 1000;
    if (!m0 || !m1) return undefined;
    const all = m1.busy + m1.idle - m0.busy - m0.idle;
    if (all <= 0 || seconds <= 0) return undefined;
    const cores = cpus().length;
    const r = (x: number) => Math.round(x * 100) / 100;
    return { machineBusy: r(((m1.busy - m0.busy) / all) * cores), cores, client: r((c.user + c.system) / 1e6 / seconds) };
  };
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;

export async function measureQueue(o: QueueBenchOptions): Promise<QueueBenchResult> {
  const all = [...BACKENDS, kafka];
  const backend = all.find((b) => b.name === o.backend);
  if (!backend) throw new Error(`backend: one of ${all.map((b) => b.name).join(", ")}`);
  const target = await (o.via === "proxy" ? proxyTarget : directTarget)(backend, {});
  const opts = { metadata: target.metadata, timeoutMs: 60_000 };
  const producer = createClient(ProducerPattern, target.address());

  /** Consumers of `group` acking what they get; onDelivery sees each payload. Returns a stop function. */
  const consume = (topic: string, group: string, onDelivery: (payload: Uint8Array) => void): (() => void) => {
    const ac = new AbortController();
    for (let i = 0; i < o.consumers; i++) {
      const c = createClient(ConsumerPattern, target.address());
      let tokens: string[] = [];
      const flush = () => {
        const t = tokens;
        tokens = [];
        if (t.length > 0) c.client.ack({ topic, group, ackTokens: t }, opts).catch(() => undefined);
      };
      const timer = setInterval(flush, 2);
      void (async () => {
        try {
          for await (const d of c.client.consume({ topic, group, maxInFlight: 256 }, { metadata: target.metadata, signal: ac.signal })) {
            onDelivery(d.payload);
            tokens.push(d.ackToken);
            if (tokens.length >= 64) flush();
          }
        } catch {
          // Stopped.
        } finally {
          clearInterval(timer);
          c.close();
        }
      })();
    }
    return () => ac.abort();
  };

  try {
    // Publish throughput: batches of 100, 4 in flight.
    const topic = `bench-${Date.now()}`;
    const payload = new Uint8Array(100);
    let t0 = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (next < o.messages) {
          const n = Math.min(100, o.messages - next);
          next += n;
          await producer.client.publishBatch({ messages: Array.from({ length: n }, () => ({ topic, payload })) }, opts);
        }
      }),
    );
    const publishPerS = o.messages / ((performance.now() - t0) / 1000);

    // Consume+ack throughput: drain the backlog (bounded, so a stalled backend ends the row instead of the run).
    let got = 0;
    t0 = performance.now();
    const drained = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => {
        stop();
        resolve(false);
      }, 120_000);
      const stop = consume(topic, "drain", () => {
        if (++got === o.messages) {
          clearTimeout(timer);
          stop();
          resolve(true);
        }
      });
    });
    if (!drained) throw new Error(`${got} of ${o.messages} messages consumed within 120 s`);
    const consumePerS = o.messages / ((performance.now() - t0) / 1000);

    // Latency at a moderate rate: the payload carries the publish time. Before the measured messages, warm-up
    // ones ("w", not timed) until one is delivered and for a second after, as every other row warms up 1 s: the
    // consumer has joined (on Kafka its group is assigned; the first delivery came after 183 ms in one run, and
    // a fixed 500-ms pause stood here) and the path is warm. Rebalances later in the run stay in the figures.
    const latTopic = `${topic}-lat`;
    const lat: number[] = [];
    let warmDelivered = 0;
    const warm = new TextEncoder().encode("w");
    const stop = consume(latTopic, "lat", (p) => {
      if (p.length === 1 && p[0] === warm[0]) warmDelivered++;
      else lat.push(performance.timeOrigin + performance.now() - Number(new TextDecoder().decode(p)));
    });
    const joinBy = Date.now() + 30_000;
    while (warmDelivered === 0 && Date.now() < joinBy) {
      void producer.client.publish({ topic: latTopic, payload: warm }, opts);
      await Bun.sleep(20);
    }
    if (warmDelivered === 0) throw new Error("no warm-up message delivered within 30 s");
    const total = Math.round(o.rate * o.seconds);
    const warmUntil = performance.now() + 1000;
    while (performance.now() < warmUntil) {
      void producer.client.publish({ topic: latTopic, payload: warm }, opts);
      await Bun.sleep(1000 / o.rate);
    }
    const cpuSince = pacedCpu();
    const start = performance.now();
    for (let i = 0; i < total; i++) {
      const due = start + (i * 1000) / o.rate;
      const wait = due - performance.now();
      if (wait > 1) await Bun.sleep(wait);
      void producer.client.publish({ topic: latTopic, payload: new TextEncoder().encode(String(performance.timeOrigin + performance.now())) }, opts);
    }
    const deadline = Date.now() + 30_000;
    while (lat.length < total && Date.now() < deadline) await Bun.sleep(50);
    const cpu = cpuSince();
    stop();
    lat.sort((a, b) => a - b);
    return {
      backend: backend.name,
      via: o.via,
      messages: o.messages,
      consumers: o.consumers,
      publishPerS: Math.round(publishPerS),
      consumeAckPerS: Math.round(consumePerS),
      latency: {
        rate: o.rate,
        delivered: lat.length,
        sent: total,
        p50Ms: +percentile(lat, 50).toFixed(2),
        p99Ms: +percentile(lat, 99).toFixed(2),
        ...(cpu && { cpu }),
      },
    };
  } finally {
    producer.close();
    await target.close();
  }
}

/** Issue 21's targets, for Kafka and NATS through the proxy: ≥ 10k consumed+acked/s, p99 < 20 ms at 1,000/s. */
function target(r: QueueBenchResult): string {
  if (r.via !== "proxy" || !["kafka", "nats"].includes(r.backend)) return "";
  const misses = [
    r.consumeAckPerS < 10_000 ? `${r.consumeAckPerS}/s < 10k/s` : "",
    r.latency.rate >= 1000 && r.latency.p99Ms >= 20 ? `p99 ${r.latency.p99Ms} ms ≥ 20 ms` : "",
    r.latency.delivered < r.latency.sent ? `${r.latency.sent - r.latency.delivered} not delivered` : "",
  ].filter(Boolean);
  return misses.length === 0 ? "met" : `not met (${misses.join(", ")})`;
}

/** "1.82 of 2 (0.48)": the machine's cores busy while paced, of its cores, and the bench client's own. */
export function pacedCpuText(cpu: PacedCpu | undefined): string {
  return cpu ? `${cpu.machineBusy.toFixed(2)} of ${cpu.cores} (${cpu.client.toFixed(2)})` : "";
}

export function queueMarkdown(results: readonly QueueBenchResult[]): string {
  const lines = [
    "| backend | via | publish msg/s | consume+ack msg/s | paced rate | publish → delivery p50 | p99 | delivered | CPU busy while paced, cores: machine (bench client) | issue 21 target (Kafka, NATS via proxy) |",
    "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
  ];
  for (const r of results) {
    if (r.reason) {
      lines.push(`| ${r.backend} | ${r.via} | not run: ${r.reason} | | | | | | | |`);
      continue;
    }
    lines.push(
      `| ${r.backend} | ${r.via} | ${r.publishPerS} | ${r.consumeAckPerS} | ${r.latency.rate}/s | ${r.latency.p50Ms} ms | ${r.latency.p99Ms} ms | ${r.latency.delivered} of ${r.latency.sent} | ${pacedCpuText(r.latency.cpu)} | ${target(r)} |`,
    );
  }
  return `${lines.join("\n")}\n`;
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      backend: { type: "string", default: "memstore" },
      via: { type: "string", default: "direct" },
      messages: { type: "string", default: "20000" },
      consumers: { type: "string", default: "4" },
      rate: { type: "string", default: "1000" },
      seconds: { type: "string", default: "5" },
    },
  });
  const r = await measureQueue({
    backend: values.backend!,
    via: values.via === "proxy" ? "proxy" : "direct",
    messages: Number(values.messages),
    consumers: Number(values.consumers),
    rate: Number(values.rate),
    seconds: Number(values.seconds),
  });
  console.log(JSON.stringify(r));
  process.exit(0);
}
