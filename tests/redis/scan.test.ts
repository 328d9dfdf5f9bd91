import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Redis } from "ioredis";
import { Code } from "../../sdk/grpc/errors";
import { deletePrefix, failureCode, directRedis, sharedRedisAddress, startRedisPattern, str, text, uniqueNamespace, type RedisPattern } from "./harness";

const TOTAL = 10_000;
const key = (i: number) => `k-${String(i).padStart(5, "0")}`;

let pattern: RedisPattern;
let redis: Redis;
const ns = uniqueNamespace("scan");

beforeAll(async () => {
  const address = await sharedRedisAddress();
  pattern = await startRedisPattern({ address, namespace: ns });
  redis = directRedis(address);
  for (let start = 0; start < TOTAL; start += 1000) {
    const requests = [];
    for (let i = start; i < start + 1000; i++) requests.push({ key: key(i), value: text(`v-${i}`) });
    await pattern.clients.batch.batchSet({ requests });
  }
  // Neighbours that must not show up: a list in the same namespace, keys of another namespace.
  await pattern.clients.list.pushRight({ key: "k-list", values: [text("x")] });
  await redis.set(`${ns}-other:k-00001`, "other");
  await redis.set(`other-${ns}:k-00002`, "other");
}, 60_000);

afterAll(async () => {
  await pattern?.stop();
  try {
    await deletePrefix(redis, `${ns}:`);
    await redis.del(`${ns}-other:k-00001`, `other-${ns}:k-00002`);
  } finally {
    redis?.disconnect();
  }
});

/** Pages through ScanKeys with this limit; every page but the last must be full and end with a cursor. */
async function pageAll(limit: number, prefix = "", withValues = false): Promise<{ keys: string[]; pages: number }> {
  const keys: string[] = [];
  let cursor = "";
  let pages = 0;
  for (;;) {
    const page: { key: string; nextCursor: string; value?: Uint8Array }[] = [];
    const stream = withValues ? pattern.clients.scan.scan({ prefix, limit, cursor }) : pattern.clients.scan.scanKeys({ prefix, limit, cursor });
    for await (const e of stream) page.push(e);
    pages++;
    for (const [i, e] of page.entries()) {
      keys.push(e.key);
      if (i < page.length - 1) expect(e.nextCursor).toBe("");
      if (withValues) expect(str(e.value!)).toBe(`v-${Number(e.key.slice(2))}`);
    }
    const last = page.at(-1);
    if (!last?.nextCursor) return { keys, pages };
    expect(page.length).toBe(limit);
    cursor = last.nextCursor;
    if (pages > TOTAL) throw new Error("paging does not end");
  }
}

function expectExactly(keys: string[], expected: string[]): void {
  const seen = new Set<string>();
  const duplicates = keys.filter((k) => (seen.has(k) ? true : (seen.add(k), false)));
  expect(duplicates).toEqual([]);
  const missing = expected.filter((k) => !seen.has(k));
  expect(missing).toEqual([]);
  expect(keys.length).toBe(expected.length);
}

const all = Array.from({ length: TOTAL }, (_, i) => key(i));

describe("scan paging across 10,000 keys", () => {
  test("ScanKeys, 100 per page: every key once, no empty last page", async () => {
    const { keys, pages } = await pageAll(100);
    expectExactly(keys, all);
    expect(pages).toBe(TOTAL / 100);
  }, 60_000);

  test("ScanKeys with an odd page size (7) over a prefix: every key once", async () => {
    const { keys } = await pageAll(7, "k-01");
    expectExactly(
      keys,
      all.filter((k) => k.startsWith("k-01")),
    );
  }, 60_000);

  test("Scan with values, 999 per page: every key once with its value", async () => {
    const { keys, pages } = await pageAll(999, "", true);
    expectExactly(keys, all);
    expect(pages).toBe(Math.ceil(TOTAL / 999));
  }, 60_000);

  test("one page per key, at the edge of every SCAN batch", async () => {
    const { keys } = await pageAll(1, "k-000");
    expectExactly(keys, all.slice(0, 100));
  }, 30_000);

  test("no limit: one stream with every key", async () => {
    const { keys, pages } = await pageAll(0);
    expect(pages).toBe(1);
    expectExactly(keys, all);
  }, 60_000);

  test("paging while 1,000 keys are added in between: no duplicates, no original key missed", async () => {
    const keys: string[] = [];
    let cursor = "";
    let added = 0;
    for (let pages = 0; pages <= TOTAL; pages++) {
      let next = "";
      for await (const e of pattern.clients.scan.scanKeys({ prefix: "", limit: 100, cursor })) {
        keys.push(e.key);
        next = e.nextCursor;
      }
      if (next === "") break;
      cursor = next;
      // Ten new keys per page, sorting among the existing ones; the table grows while the scan runs.
      if (added < 1000) {
        await pattern.clients.batch.batchSet({ requests: Array.from({ length: 10 }, () => ({ key: `${key(added++ * 10)}+new`, value: text("n") })) });
      }
    }
    expect(keys.length).toBe(new Set(keys).size);
    const seen = new Set(keys);
    expect(all.filter((k) => !seen.has(k))).toEqual([]);
    const removed = await pattern.clients.batch.batchDelete({ keys: Array.from({ length: added }, (_, i) => `${key(i * 10)}+new`) });
    expect(removed.results.every((r) => r.found)).toBe(true);
  }, 60_000);

  test("Count uses SCAN too and sees only this namespace's key-value entries", async () => {
    expect((await pattern.clients.scan.count({ prefix: "" })).count).toBe(BigInt(TOTAL));
    expect((await pattern.clients.scan.count({ prefix: "k-0999" })).count).toBe(10n);
    expect((await pattern.clients.scan.count({ prefix: "zzz" })).count).toBe(0n);
  });

  test("a prefix with glob characters matches literally", async () => {
    await pattern.clients.kv.set({ key: "g*[x]?", value: text("glob") });
    const keys: string[] = [];
    for await (const e of pattern.clients.scan.scanKeys({ prefix: "g*[", limit: 0, cursor: "" })) keys.push(e.key);
    expect(keys).toEqual(["g*[x]?"]);
    expect((await pattern.clients.scan.count({ prefix: "g*" })).count).toBe(1n);
    await pattern.clients.kv.delete({ key: "g*[x]?" });
  });

  test("a forged cursor is INVALID_ARGUMENT", async () => {
    const read = async () => {
      for await (const _ of pattern.clients.scan.scanKeys({ prefix: "", limit: 10, cursor: "bogus" }));
    };
    expect(await failureCode(read())).toBe(Code.INVALID_ARGUMENT);
  });
});
