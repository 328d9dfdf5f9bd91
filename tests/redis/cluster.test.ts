import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Redis } from "ioredis";
import { redisClusterSeeds, requireService } from "../helpers/services";
import { runKeyValueSuite } from "../acceptance/keyvalue.suite";
import { runIdempotencySuite } from "../acceptance/keyvalue_idempotency.suite";
import { runListSuite } from "../acceptance/list.suite";
import { redisTarget } from "./target";
import { deletePrefix, startRedisPattern, str, text, uniqueNamespace, type RedisPattern } from "./harness";

const TOTAL = 3_000;
const key = (i: number) => `c-${String(i).padStart(5, "0")}`;

let pattern: RedisPattern;
let nodes: Redis[];
const ns = uniqueNamespace("cluster");

beforeAll(async () => {
  await requireService("redis-cluster");
  const seeds = redisClusterSeeds();
  pattern = await startRedisPattern({ cluster: seeds, namespace: ns });
  // Direct connections to each node, to see where keys landed.
  nodes = seeds.map((s) => new Redis(`redis://${s}`, { maxRetriesPerRequest: 1 }));
  for (let start = 0; start < TOTAL; start += 500) {
    const requests = [];
    for (let i = start; i < start + 500; i++) requests.push({ key: key(i), value: text(`v-${i}`) });
    await pattern.clients.batch.batchSet({ requests });
  }
}, 60_000);

afterAll(async () => {
  await pattern?.stop();
  for (const n of nodes ?? []) {
    try {
      if ((await n.role())[0] === "master") await deletePrefix(n, `${ns}:`);
    } finally {
      n.disconnect();
    }
  }
});

async function nodeKeyCount(n: Redis): Promise<number> {
  let count = 0;
  let cursor = "0";
  do {
    const [next, keys] = await n.scan(cursor, "MATCH", `${ns}:*`, "COUNT", 1000);
    count += keys.length;
    cursor = next;
  } while (cursor !== "0");
  return count;
}

describe("Redis Cluster mode", () => {
  test("keys spread over every master", async () => {
    const counts = await Promise.all(nodes.map(nodeKeyCount));
    expect(counts.every((c) => c > 0)).toBe(true);
    expect(counts.reduce((a, b) => a + b, 0)).toBe(TOTAL);
  });

  test("Scan pages through every master: each key once, with its value", async () => {
    const seen = new Map<string, string>();
    let cursor = "";
    let pages = 0;
    do {
      let last = "";
      for await (const e of pattern.clients.scan.scan({ prefix: "", limit: 250, cursor })) {
        expect(seen.has(e.key)).toBe(false);
        seen.set(e.key, str(e.value));
        last = e.nextCursor;
      }
      cursor = last;
      pages++;
    } while (cursor !== "" && pages <= TOTAL);
    expect(seen.size).toBe(TOTAL);
    for (let i = 0; i < TOTAL; i++) expect(seen.get(key(i))).toBe(`v-${i}`);
    expect(pages).toBe(TOTAL / 250);
  }, 30_000);

  test("Count adds up every master", async () => {
    expect((await pattern.clients.scan.count({ prefix: "" })).count).toBe(BigInt(TOTAL));
    expect((await pattern.clients.scan.count({ prefix: "c-0001" })).count).toBe(10n);
  });

  test("batches span hash slots: get, set with TTL, delete", async () => {
    const keys = [key(1), key(2), key(3), "missing-1", key(2999)];
    const got = await pattern.clients.batch.batchGet({ keys });
    expect(got.results.map((r) => (r.found ? str(r.value) : null))).toEqual(["v-1", "v-2", "v-3", null, "v-2999"]);
    expect(got.foundCount).toBe(4);

    await pattern.clients.batch.batchSet({
      requests: [
        { key: "t-a", value: text("a"), ttlSeconds: 100n },
        { key: "t-b", value: text("b") },
      ],
    });
    expect((await pattern.clients.ttl.getTTL({ key: "t-a" })).ttlSeconds).toBeGreaterThan(90n);
    expect((await pattern.clients.ttl.getTTL({ key: "t-b" })).ttlSeconds).toBe(-1n);

    const del = await pattern.clients.batch.batchDelete({ keys: ["t-a", "t-b", "t-missing"] });
    expect(del.results.map((r) => r.found)).toEqual([true, true, false]);
  });

  test("lists and pub/sub work through the cluster", async () => {
    const { list, pubsub } = pattern.clients;
    await list.pushRight({ key: "q", values: [text("1"), text("2"), text("3")] });
    expect((await list.popLeft({ key: "q", count: 2 })).values.map(str)).toEqual(["1", "2"]);

    const ac = new AbortController();
    const got: string[] = [];
    const reader = (async () => {
      try {
        for await (const m of pubsub.subscribe({ topic: "t", subscriberId: "s" }, { signal: ac.signal })) got.push(str(m.payload));
      } catch {
        // cancelled below
      }
    })();
    const deadline = Date.now() + 10_000;
    while (!got.includes("hello") && Date.now() < deadline) {
      await pubsub.publish({ topic: "t", payload: text("hello") });
      await Bun.sleep(25);
    }
    ac.abort();
    await reader;
    expect(got).toContain("hello");
  }, 20_000);
});

// The acceptance suites, against the cluster.
runKeyValueSuite("redis-cluster", () => redisTarget("cluster"));
runListSuite("redis-cluster", () => redisTarget("cluster"));
// Keyed batches are applied entry by entry there (one script cannot span slots): still once each.
runIdempotencySuite("redis-cluster", () => redisTarget("cluster"));
