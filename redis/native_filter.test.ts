/**
 * The Redis driver's JsonFilterScan (native_filter.ts) against the shared Redis: the Lua evaluation agrees with the
 * conformance cases, pages through a prefix with its cursor, stays inside its namespace and prefix, skips values
 * that are not JSON, and is unavailable (so callers filter themselves) on a cluster.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import Redis from "ioredis";
import { randomUUID } from "node:crypto";
import type { JsonFilter } from "../sdk/drivers/interfaces";
import { offersJsonFilterScan } from "../sdk/drivers/json_filter";
import type { Resilience } from "../sdk/drivers/resilience";
import { createLogger } from "../sdk/observability/logger";
import { FILTER_DOCS, filterDisagreements } from "../tests/helpers/json_filter_cases";
import { redisUrl, requireService } from "../tests/helpers/services";
import { parseRedisConfig } from "./config";
import type { RedisConnection } from "./connection";
import { RedisDriver } from "./driver";
import { RedisJsonFilter } from "./native_filter";

const logger = createLogger({ level: "error" });
const utf8 = (s: string) => new TextEncoder().encode(s);
let driver: RedisDriver;
let other: RedisDriver;

/** The shared server's key count: SCAN walks all of it (other suites' keys too), about `count` slots a page. */
async function keyspaceSize(): Promise<number> {
  const redis = new Redis(redisUrl(), { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    return await redis.dbsize();
  } finally {
    redis.disconnect();
  }
}

/** Every key under prefix matching filter, following cursors to the end (bounded), with the pages it took. */
async function scanAll(d: RedisDriver, prefix: string, filter: JsonFilter | undefined, count = 5): Promise<{ keys: string[]; pages: number }> {
  const keys: string[] = [];
  let cursor = "";
  let pages = 0;
  // A hash table holds up to twice its keys in slots; the keys other suites add meanwhile get the rest.
  const bound = 10_000 + Math.ceil((4 * (await keyspaceSize())) / count);
  do {
    const page = await d.filterScan({ prefix, filter, cursor, count, signal: AbortSignal.timeout(10_000) });
    for (const e of page.entries) keys.push(e.key);
    cursor = page.nextCursor;
    if (++pages > bound) throw new Error(`scan does not end (${bound} pages)`);
  } while (cursor !== "");
  return { keys, pages };
}

beforeAll(async () => {
  await requireService("redis");
  const config = (ns: string) => parseRedisConfig({ address: redisUrl() }, { configFile: "test", namespace: ns });
  driver = new RedisDriver(config(`nf-${randomUUID().slice(0, 8)}`), logger);
  other = new RedisDriver(config(`nf-${randomUUID().slice(0, 8)}`), logger);
  for (const d of [driver, other]) if (!(await d.connected(10_000))) throw new Error(`redis ${redisUrl()} not reachable`);
  for (const [k, doc] of Object.entries(FILTER_DOCS)) {
    await driver.set(`doc/${k}`, utf8(JSON.stringify(doc)), 0);
    await other.set(`doc/${k}-other-namespace`, utf8(JSON.stringify(doc)), 0);
  }
  await driver.set("doc-not-under-prefix", utf8("{}"), 0);
  await driver.set("doc/", utf8("not json {"), 0);
  await driver.pushLeft("doc/a-list", [utf8("{}")]);
});

afterAll(async () => {
  for (const d of [driver, other]) {
    if (!d) continue;
    const keys: string[] = [];
    for await (const e of d.scan({ prefix: "", limit: 0, cursor: "", withValues: false, signal: AbortSignal.timeout(10_000) })) keys.push(e.key);
    for (const k of [...keys, "doc/a-list"]) await d.delete(k);
    await d.close();
  }
});

describe("redis JsonFilterScan", () => {
  test("the Lua evaluation agrees with every conformance case", async () => {
    expect(offersJsonFilterScan(driver)).toBe(true);
    const failures = await filterDisagreements(async (f) => (await scanAll(driver, "doc/", f)).keys.map((k) => k.slice("doc/".length)));
    expect(failures).toEqual([]);
  });

  test("pages follow the cursor to the end, each key once; values come back as stored", async () => {
    const { keys, pages } = await scanAll(driver, "doc/", undefined, 2);
    expect(pages).toBeGreaterThan(1);
    expect(keys.sort()).toEqual(
      Object.keys(FILTER_DOCS)
        .map((k) => `doc/${k}`)
        .sort(),
    );
    // A step may hold no match although more follow (SCAN's COUNT is a hint over the whole keyspace): follow the cursor.
    const entries: { key: string; value: Uint8Array }[] = [];
    let cursor = "";
    const bound = 10_000 + Math.ceil((4 * (await keyspaceSize())) / 100);
    for (let steps = 0; steps < bound; steps++) {
      const page = await driver.filterScan({ prefix: "doc/ann", filter: undefined, cursor, count: 100, signal: AbortSignal.timeout(5_000) });
      entries.push(...page.entries);
      cursor = page.nextCursor;
      if (cursor === "") break;
    }
    expect(cursor).toBe("");
    expect(entries.map((e) => [e.key, JSON.parse(new TextDecoder().decode(e.value))])).toEqual([["doc/ann", FILTER_DOCS.ann]]);
  });

  test("a cursor that is not a SCAN cursor is INVALID_ARGUMENT", async () => {
    const err = await driver.filterScan({ prefix: "doc/", filter: undefined, cursor: "x1", count: 5, signal: AbortSignal.timeout(5_000) }).catch((e) => e);
    expect(String(err)).toContain("cursor");
  });

  test("unavailable on a cluster: the capability is not offered and a call fails", async () => {
    const ctx = { conn: {} as RedisConnection, guard: {} as Resilience, prefix: "ns:", cluster: true, write: <T>(fn: () => Promise<T>) => fn() };
    const f = new RedisJsonFilter(ctx);
    expect(f.jsonFilterUnavailable).toContain("cluster");
    expect(offersJsonFilterScan(f)).toBe(false);
    expect(f.filterScan({ prefix: "", filter: undefined, cursor: "", count: 1, signal: AbortSignal.timeout(1_000) })).rejects.toThrow("cluster");
  });
});
