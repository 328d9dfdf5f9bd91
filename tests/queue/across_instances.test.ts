/**
 * Stateful patterns across instances (issue 24 item 3), Producer/Consumer: two dist/queue processes of one
 * namespace over a shared backend (Redis, then PostgreSQL). Two groups, each with consumers on both instances;
 * messages are published through both instances, and each delivery is acked through the instance that delivered it
 * (an ack through another instance is applied, but frees the delivering stream's in-flight place only at the ack
 * deadline: queue/README.md, Limits). Every message is acked exactly once per group, 0 lost, both instances take a
 * share of each group's work (the split is printed), and both instances then report nothing pending or in flight.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { ConsumerPattern } from "../../proto/gen/prism/patterns/consumer/consumer_pattern_pb";
import { ProducerPattern } from "../../proto/gen/prism/patterns/producer/producer_pattern_pb";
import { createClient } from "../../sdk/grpc/client";
import { type ConfiguredPattern, configuredPattern } from "../helpers/process";
import { requireService } from "../helpers/services";
import { waitFor } from "../helpers/wait";
import { requireBuilt } from "../proxy/harness";
import { postgres, redis } from "./backends";
import { type QueueBackend, uniqueNamespace } from "./targets";

const MESSAGES = 2_000;
const GROUPS = ["g1", "g2"] as const;
const CONSUMERS_PER_INSTANCE = 2;
const enc = new TextEncoder();

for (const backend of [redis, postgres] as QueueBackend[]) {
  describe(`queue over ${backend.name}: two instances, one shared backend`, () => {
    const closers: (() => Promise<void>)[] = [];
    afterAll(async () => {
      for (const c of closers.reverse()) await c().catch(() => undefined);
    }, 60_000);

    test("competing consumers of a group on both instances split the work: each message acked once per group, 0 lost", async () => {
      requireBuilt("queue");
      for (const s of backend.needs) await requireService(s);
      const ns = uniqueNamespace(`across-${backend.name}`);
      const { slots, cleanup } = await backend.slots(ns);
      closers.push(cleanup);
      const instances: ConfiguredPattern[] = await Promise.all([0, 1].map(() => configuredPattern("queue", { namespace: ns, ack_deadline: "60s", slots })));
      for (const i of instances) closers.push(i.close);
      const producers = instances.map((i) => createClient(ProducerPattern, i.address));
      const consumers = instances.map((i) => createClient(ConsumerPattern, i.address));
      closers.push(async () => {
        for (const c of [...producers, ...consumers]) c.close();
      });
      const opts = { timeoutMs: 20_000 };
      const topic = `across-${Date.now().toString(36)}`;
      // The groups exist before the first publish, so each sees every message.
      for (const group of GROUPS) await consumers[0]!.client.getStats({ topic, group }, opts);

      // group -> message id -> acks; group -> instance -> deliveries
      const acks = new Map(GROUPS.map((g) => [g, new Map<string, number>()]));
      const split = new Map(GROUPS.map((g) => [g, [0, 0]]));
      const ackErrors: string[] = [];
      const streams = new AbortController();
      const loops: Promise<void>[] = [];
      for (const group of GROUPS) {
        for (const [n, c] of consumers.entries()) {
          for (let k = 0; k < CONSUMERS_PER_INSTANCE; k++) {
            loops.push(
              (async () => {
                try {
                  for await (const d of c.client.consume({ topic, group, maxInFlight: 20 }, { signal: streams.signal })) {
                    split.get(group)![n]!++;
                    try {
                      const r = await c.client.ack({ topic, group, ackTokens: [d.ackToken] }, opts);
                      if (r.unknownTokens.length > 0) ackErrors.push(`${group} ${d.messageId}: token unknown`);
                      else acks.get(group)!.set(d.messageId, (acks.get(group)!.get(d.messageId) ?? 0) + 1);
                    } catch (err) {
                      ackErrors.push(`${group} ${d.messageId}: ${(err as Error).message}`);
                    }
                  }
                } catch (err) {
                  if (!streams.signal.aborted) ackErrors.push(`${group} stream on instance ${n}: ${(err as Error).message}`);
                }
              })(),
            );
          }
        }
      }

      const published: string[] = [];
      try {
        for (let i = 0; i < MESSAGES; i += 250) {
          const p = producers[(i / 250) % 2]!;
          const r = await p.client.publishBatch(
            { messages: Array.from({ length: 250 }, (_, j) => ({ topic, key: `k${(i + j) % 16}`, payload: enc.encode(String(i + j)) })) },
            opts,
          );
          published.push(...r.results.map((m) => m.messageId));
        }
        expect(new Set(published).size).toBe(MESSAGES);
        await waitFor(() => GROUPS.every((g) => acks.get(g)!.size >= MESSAGES) || ackErrors.length > 0, "every message acked in both groups", {
          timeoutMs: 90_000,
          intervalMs: 100,
        });
      } finally {
        streams.abort();
        await Promise.all(loops);
      }
      expect(ackErrors).toEqual([]);

      for (const group of GROUPS) {
        const acked = acks.get(group)!;
        const lost = published.filter((id) => !acked.has(id));
        const twice = [...acked.values()].filter((n) => n > 1).length;
        const [a, b] = split.get(group)!;
        console.log(
          `[queue across instances, ${backend.name}] ${group}: ${MESSAGES} published, instance A delivered ${a}, B ${b}, ${lost.length} lost, ${twice} acked more than once`,
        );
        expect(lost).toEqual([]);
        expect(twice).toBe(0);
        expect(a! + b!).toBe(MESSAGES);
        expect(a).toBeGreaterThan(0);
        expect(b).toBeGreaterThan(0);
      }
      // Both instances agree that nothing is left for either group.
      for (const c of consumers) {
        for (const group of GROUPS) {
          const s = await c.client.getStats({ topic, group }, opts);
          expect({ group, pending: s.pending, inFlight: s.inFlight }).toEqual({ group, pending: 0n, inFlight: 0n });
        }
      }
    }, 150_000);
  });
}
