/**
 * Replication over Kafka, whose stream has several partitions: two Session Stores in this process (regions eu and
 * us, three memstore shards each) over one topic of three partitions. Changes keyed by session id land on every
 * partition; each region reads them all and both converge. (Serial with the other Kafka suites: it imports
 * ../kafka/target.)
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { bytes, sessionStoreFrom, text } from "../../session-store/test_support";
import { kafkaBrokers, requireService } from "../helpers/services";
import { waitFor } from "../helpers/wait";
import { deleteNamespaceTopics } from "../kafka/target";

describe("session store replication over Kafka (3 partitions)", () => {
  const namespace = `sess-kafka-${randomBytes(4).toString("hex")}`;
  let eu: Awaited<ReturnType<typeof sessionStoreFrom>>;
  let us: Awaited<ReturnType<typeof sessionStoreFrom>>;
  const region = (name: string) =>
    sessionStoreFrom(
      {
        region: name,
        replication_partitions: 3,
        slots: {
          store: [0, 1, 2].map((i) => ({ driver: "memstore", name: `${name}-${i}` })),
          replication: {
            driver: "kafka",
            config: {
              brokers: kafkaBrokers(),
              partitions: 3,
              consumer: { session_timeout: "6s", heartbeat_interval: "200ms", rebalance_timeout: "6s", max_wait: "100ms" },
            },
          },
        },
      },
      namespace,
    );

  beforeAll(async () => {
    await requireService("kafka");
    eu = await region("eu");
    us = await region("us");
  }, 60_000);

  afterAll(async () => {
    await eu?.close();
    await us?.close();
    await deleteNamespaceTopics(kafkaBrokers(), namespace);
  }, 60_000);

  test("changes from both regions on every partition reach the other region; concurrent updates converge", async () => {
    const ids: string[] = [];
    for (let i = 0; i < 30; i++) ids.push((await (i % 2 ? eu : us).store.create("k", { n: bytes(String(i)) }, 600)).id);
    const state = async (r: typeof eu, id: string) => {
      const s = await r.store.get(id);
      return s ? `v${s.version}/${s.region}/${text(s.attributes.n)}/${text(s.attributes.by)}` : "absent";
    };
    await waitFor(async () => (await Promise.all(ids.map((id) => state(us, id)))).every((s) => s !== "absent"), "every session in us", { timeoutMs: 30_000 });
    await waitFor(async () => (await Promise.all(ids.map((id) => state(eu, id)))).every((s) => s !== "absent"), "every session in eu", { timeoutMs: 30_000 });
    await Promise.all(ids.flatMap((id) => [eu.store.update(id, { by: bytes("eu") }, []), us.store.update(id, { by: bytes("us") }, [])]));
    await waitFor(
      async () => {
        const [a, b] = await Promise.all([Promise.all(ids.map((id) => state(eu, id))), Promise.all(ids.map((id) => state(us, id)))]);
        return a.every((s, i) => s === b[i]);
      },
      "both regions to converge",
      { timeoutMs: 30_000, intervalMs: 200 },
    );
    // Both made a version 2 at once (unless one region's change arrived before the other's own update): at a tie the
    // greater region id's (us) is kept everywhere.
    let ties = 0;
    for (const id of ids) {
      const [, version, winner, , by] = /^v(\d+)\/(\w+)\/(\d+)\/(\w+)$/.exec(await state(eu, id))!;
      expect(by).toBe(winner!);
      if (version === "2") {
        ties++;
        expect(winner).toBe("us");
      }
    }
    console.log(`kafka replication: ${ids.length} sessions converged, ${ties} updated to the same version in both regions at once`);
  }, 90_000);
});
