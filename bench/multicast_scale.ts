// The Multicast Registry at scale (issue 10): N identities registered, each with a Subscribe stream open
// (spread over several client connections), then one multicast to all and one to a filtered tenth.
// Measures register time, per-delivery latency (multicast sent -> message received by the subscriber,
// p50/p99) and deliveries received vs delivered_count (goal: zero lost).
//   bun bench/multicast_scale.ts [--identities 10000] [--connections 50] [--slots memstore|redis-nats]
// make bench runs it through bench/run.ts (measureMulticastScale).
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { fromJson } from "@bufbuild/protobuf";
import { ValueSchema } from "@bufbuild/protobuf/wkt";
import { DeliveryStatus, MulticastRegistryPattern, Operator } from "../proto/gen/prism/patterns/multicast_registry/multicast_registry_pattern_pb";
import { boundedFanOut } from "../sdk/concurrency";
import { createClient } from "../sdk/grpc/client";
import { ROOT, startProcess } from "../tests/helpers/process";
import Redis from "ioredis";
import { natsUrl, redisUrl, requireService } from "../tests/helpers/services";

export type ScaleSlots = "memstore" | "redis-nats";

export interface MulticastDelivery {
  /** "all" or "tenth". */
  target: string;
  targetCount: number;
  deliveredCount: number;
  /** Distinct subscribers that received this multicast's message. */
  received: number;
  /** delivered_count - received: deliveries the pattern reported that no subscriber saw. */
  lost: number;
  duplicates: number;
  /** Time of the Multicast call itself. */
  callMs: number;
  /** Multicast sent -> message received, per delivery. */
  latencyMs: { p50: number; p99: number; max: number };
}

export interface MulticastScaleResult {
  slots: ScaleSlots;
  identities: number;
  connections: number;
  registerS: number;
  registerPerS: number;
  /** Until every Subscribe stream was open and reported subscribed. */
  subscribeS: number;
  multicasts: MulticastDelivery[];
  status: "ok" | "not run" | "failed";
  reason?: string;
}

const quantile = (sorted: number[], q: number) => (sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!);
const round = (x: number) => Math.round(x * 10) / 10;

/**
 * Redis commands and NATS publish flushes get 5 s (default 1 s): on a loaded shared 2-core machine a burst can wait
 * longer, and a publish whose flush times out is reported FAILED although the message went out.
 */
function slotConfig(slots: ScaleSlots, namespace: string): Record<string, unknown> {
  const base = { namespace, delivery_concurrency: 256 };
  if (slots === "memstore") return { ...base, slots: { registry: { driver: "memstore", config: { max_keys: 1_000_000 } }, messaging: { driver: "memstore" } } };
  return {
    ...base,
    slots: {
      registry: { driver: "redis", config: { address: redisUrl(), command_timeout: "5s" } },
      messaging: { driver: "nats", config: { url: natsUrl(), request_timeout: "5s" } },
    },
  };
}

export async function measureMulticastScale(
  slots: ScaleSlots,
  identities: number,
  connections: number,
  log: (s: string) => void = () => {},
): Promise<MulticastScaleResult> {
  const base: MulticastScaleResult = { slots, identities, connections, registerS: 0, registerPerS: 0, subscribeS: 0, multicasts: [], status: "ok" };
  if (slots === "redis-nats") {
    try {
      await requireService("redis");
      await requireService("nats");
    } catch (err) {
      return { ...base, status: "not run", reason: (err as Error).message.split("\n")[0] };
    }
  }
  const namespace = `bench-mc-${Date.now().toString(36)}`;
  const dir = mkdtempSync(join(tmpdir(), "prism-bench-mc-"));
  const file = join(dir, "mr.yaml");
  writeFileSync(file, JSON.stringify(slotConfig(slots, namespace)));
  const pattern = startProcess([`${ROOT}/dist/multicast-registry`, "--grpc-port", "0", "--config", file]);
  const clients: ReturnType<typeof createClient<typeof MulticastRegistryPattern>>[] = [];
  const streams = new AbortController();
  try {
    const address = (await pattern.waitFor(/grpc listening on (\S+)/, 30_000))[1]!;
    // A subchannel pool of each client's own: grpc-js otherwise shares one connection between clients of the same
    // target and options, and that one connection meets the listener's cap on concurrent calls (2,048 by default).
    const ownConnection = { "grpc.use_local_subchannel_pool": 1 };
    for (let i = 0; i < connections; i++) clients.push(createClient(MulticastRegistryPattern, address, undefined, ownConnection));
    const ids = Array.from({ length: identities }, (_, i) => `id-${i}`);

    const t0 = performance.now();
    const reg = await boundedFanOut(ids, 64, async (id, i) => {
      await clients[i % connections]!.client.register({ identity: id, metadata: { i, tenth: i % 10 === 0 } }, { timeoutMs: 30_000 });
    });
    const failedReg = reg.filter((r) => r.status === "rejected").length;
    if (failedReg > 0) throw new Error(`${failedReg} registrations failed`);
    base.registerS = (performance.now() - t0) / 1000;
    base.registerPerS = Math.round(identities / base.registerS);
    log(`  registered ${identities} in ${base.registerS.toFixed(1)} s`);

    // One Subscribe stream per identity; every received message is timestamped here.
    const received = new Map<string, Map<string, number[]>>(); // messageId -> identity -> receive times
    const streamErrors: string[] = [];
    const t1 = performance.now();
    for (const [i, id] of ids.entries()) {
      // Opened in steps of 100: thousands of streams started in one tick overflow Bun's HTTP/2 client stack.
      if (i % 100 === 99) await Bun.sleep(5);
      const c = clients[i % connections]!.client;
      void (async () => {
        try {
          for await (const m of c.subscribe({ identity: id }, { signal: streams.signal, timeoutMs: 3_600_000 })) {
            const at = performance.now();
            let byId = received.get(m.messageId);
            if (!byId) received.set(m.messageId, (byId = new Map()));
            const times = byId.get(id);
            if (times) times.push(at);
            else byId.set(id, [at]);
          }
        } catch (err) {
          if (!streams.signal.aborted) streamErrors.push(`${id}: ${(err as Error).message}`);
        }
      })();
    }
    // Subscribed = presence reported by Enumerate for every identity.
    for (;;) {
      let subscribed = 0;
      let cursor = "";
      do {
        const page = await clients[0]!.client.enumerate({ limit: 5000, cursor }, { timeoutMs: 60_000 });
        subscribed += page.identities.filter((x) => x.subscribed).length;
        cursor = page.hasMore ? page.nextCursor : "";
      } while (cursor !== "");
      if (subscribed === identities) break;
      if (performance.now() - t1 > 300_000 || streamErrors.length > 0) {
        throw new Error(
          `${subscribed} of ${identities} subscribed after ${Math.round((performance.now() - t1) / 1000)} s; ${streamErrors.length} streams failed${streamErrors.length ? `, e.g. ${streamErrors[0]}` : ""}`,
        );
      }
      await Bun.sleep(250);
    }
    base.subscribeS = (performance.now() - t1) / 1000;
    log(`  ${identities} subscribed in ${base.subscribeS.toFixed(1)} s over ${connections} connections`);

    const tenth = { kind: { case: "condition" as const, value: { field: "tenth", op: Operator.EQ, value: fromJson(ValueSchema, true), values: [] } } };
    for (const [target, filter] of [
      ["all", undefined],
      ["tenth", tenth],
    ] as const) {
      const sent = performance.now();
      const r = await clients[0]!.client.multicast({ filter, payload: new Uint8Array(64), timeoutMs: 120_000 }, { timeoutMs: 130_000 });
      const callMs = performance.now() - sent;
      const statuses: Record<string, number> = {};
      for (const x of r.results) {
        const k = `${DeliveryStatus[x.status]}${x.error ? `: ${x.error.slice(0, 120)}` : ""}`;
        statuses[k] = (statuses[k] ?? 0) + 1;
      }
      log(`  statuses: ${JSON.stringify(statuses)}`);
      // Wait (bounded) until every delivery arrived, or nothing more arrives for 5 s.
      let last = -1;
      let stillSince = performance.now();
      for (;;) {
        const n = received.get(r.messageId)?.size ?? 0;
        if (n >= r.deliveredCount) break;
        if (n !== last) {
          last = n;
          stillSince = performance.now();
        } else if (performance.now() - stillSince > 5_000) break;
        await Bun.sleep(20);
      }
      const byId = received.get(r.messageId) ?? new Map<string, number[]>();
      const latencies = [...byId.values()].map((times) => times[0]! - sent).sort((a, b) => a - b);
      const duplicates = [...byId.values()].reduce((n, t) => n + t.length - 1, 0);
      const d: MulticastDelivery = {
        target,
        targetCount: r.targetCount,
        deliveredCount: r.deliveredCount,
        received: byId.size,
        lost: r.deliveredCount - byId.size,
        duplicates,
        callMs: round(callMs),
        latencyMs: { p50: round(quantile(latencies, 0.5)), p99: round(quantile(latencies, 0.99)), max: round(latencies.at(-1) ?? 0) },
      };
      base.multicasts.push(d);
      log(
        `  multicast to ${target}: ${d.deliveredCount}/${d.targetCount} delivered, ${d.received} received, lost ${d.lost}, p50 ${d.latencyMs.p50} ms p99 ${d.latencyMs.p99} ms`,
      );
    }
    return base;
  } catch (err) {
    return { ...base, status: "failed", reason: (err as Error).message.slice(0, 300) };
  } finally {
    streams.abort();
    for (const c of clients) c.close();
    await pattern.stop(15_000);
    rmSync(dir, { recursive: true, force: true });
    if (slots === "redis-nats") await dropNamespace(namespace, log);
  }
}

/** Removes the run's identities from the shared Redis (they carry no TTL): 10,000 keys a run stayed behind before. */
async function dropNamespace(namespace: string, log: (s: string) => void): Promise<void> {
  const redis = new Redis(redisUrl(), { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    let cursor = "0";
    let dropped = 0;
    do {
      const [next, keys] = await redis.scan(cursor, "MATCH", `${namespace}:*`, "COUNT", 1000);
      cursor = next;
      if (keys.length > 0) dropped += await redis.unlink(...keys);
    } while (cursor !== "0");
    log(`  removed the run's ${dropped} registry keys from Redis`);
  } catch (err) {
    log(`  could not remove the run's registry keys (${namespace}:*) from Redis: ${(err as Error).message}`);
  } finally {
    redis.disconnect();
  }
}

/** Markdown table of the results. */
export function multicastScaleMarkdown(results: MulticastScaleResult[]): string {
  const lines = [
    "| slots | identities | register | subscribe all | multicast to | target | delivered | received | lost | call | latency p50 | p99 |",
    "| ----- | ---------: | -------: | ------------: | ------------ | -----: | --------: | -------: | ---: | ---: | ----------: | --: |",
  ];
  for (const r of results) {
    if (r.status !== "ok") {
      lines.push(`| ${r.slots} | ${r.identities} | ${r.status}: ${r.reason ?? ""} | | | | | | | | | |`);
      continue;
    }
    for (const m of r.multicasts) {
      lines.push(
        `| ${r.slots} | ${r.identities} | ${r.registerS.toFixed(1)} s (${r.registerPerS}/s) | ${r.subscribeS.toFixed(1)} s | ${m.target} | ${m.targetCount} | ${m.deliveredCount} | ${m.received} | ${m.lost} | ${m.callMs} ms | ${m.latencyMs.p50} ms | ${m.latencyMs.p99} ms |`,
      );
    }
  }
  return lines.join("\n") + "\n";
}

if (import.meta.main) {
  const { values } = parseArgs({
    options: {
      identities: { type: "string", default: "10000" },
      connections: { type: "string", default: "50" },
      slots: { type: "string", default: "memstore" },
    },
  });
  const r = await measureMulticastScale(values.slots as ScaleSlots, Number(values.identities), Number(values.connections), (s) =>
    process.stderr.write(`${s}\n`),
  );
  process.stdout.write(multicastScaleMarkdown([r]));
  process.exit(r.status === "ok" ? 0 : 1);
}
