/**
 * The PostgreSQL driver's JsonFilterScan (native_filter.ts) against the shared server: the JSONB evaluation agrees
 * with the conformance cases, pages in key order with its keyset cursor, stays inside its namespace and prefix,
 * and never returns an expired row.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { randomUUID } from "node:crypto";
import { Code, PrismError } from "../sdk/errors";
import type { JsonFilter } from "../sdk/drivers/interfaces";
import { offersJsonFilterScan } from "../sdk/drivers/json_filter";
import { createLogger } from "../sdk/observability/logger";
import { FILTER_DOCS, filterDisagreements } from "../tests/helpers/json_filter_cases";
import { postgresUrl, requireService } from "../tests/helpers/services";
import { parsePostgresConfig } from "./config";
import { PostgresDriver } from "./driver";

const logger = createLogger({ level: "error" });
const utf8 = (s: string) => new TextEncoder().encode(s);
const namespaces = [`nf-${randomUUID().slice(0, 8)}`, `nf-${randomUUID().slice(0, 8)}`];
let driver: PostgresDriver;
let other: PostgresDriver;

function open(namespace: string): PostgresDriver {
  const u = new URL(postgresUrl());
  const config = {
    host: u.hostname,
    port: Number(u.port || 5432),
    database: decodeURIComponent(u.pathname.slice(1)),
    user: decodeURIComponent(u.username),
    password: decodeURIComponent(u.password),
  };
  return new PostgresDriver(parsePostgresConfig(config, { configFile: "test", namespace }), logger);
}

/** Every key under prefix matching filter, following cursors to the end (bounded), with the pages it took. */
async function scanAll(prefix: string, filter: JsonFilter | undefined, count = 5): Promise<{ keys: string[]; pages: number }> {
  const keys: string[] = [];
  let cursor = "";
  let pages = 0;
  do {
    const page = await driver.filterScan({ prefix, filter, cursor, count, signal: AbortSignal.timeout(10_000) });
    for (const e of page.entries) keys.push(e.key);
    cursor = page.nextCursor;
    if (++pages > 1_000) throw new Error("scan does not end");
  } while (cursor !== "");
  return { keys, pages };
}

beforeAll(async () => {
  await requireService("postgres");
  driver = open(namespaces[0]!);
  other = open(namespaces[1]!);
  await driver.batchSet(Object.entries(FILTER_DOCS).map(([k, doc]) => ({ key: `doc/${k}`, value: utf8(JSON.stringify(doc)), ttlSeconds: 0 })));
  await other.batchSet(Object.entries(FILTER_DOCS).map(([k, doc]) => ({ key: `doc/${k}-other`, value: utf8(JSON.stringify(doc)), ttlSeconds: 0 })));
  await driver.set("doc-not-under-prefix", utf8("{}"), 0);
  await driver.set("doc0", utf8("{}"), 0);
});

afterAll(async () => {
  if (!driver) return;
  for (const ns of namespaces) await driver.sql`delete from prism_kv where namespace = ${ns}`;
  await driver.close();
  await other.close();
});

describe("postgres JsonFilterScan", () => {
  test("the JSONB evaluation agrees with every conformance case", async () => {
    expect(offersJsonFilterScan(driver)).toBe(true);
    const failures = await filterDisagreements(async (f) => (await scanAll("doc/", f)).keys.map((k) => k.slice("doc/".length)));
    expect(failures).toEqual([]);
  });

  test("pages come in key order and follow the cursor to the end; values come back as stored", async () => {
    const { keys, pages } = await scanAll("doc/", undefined, 3);
    expect(pages).toBeGreaterThan(1);
    expect(keys).toEqual(
      Object.keys(FILTER_DOCS)
        .map((k) => `doc/${k}`)
        .sort(),
    );
    const first = await driver.filterScan({ prefix: "doc/ann", filter: undefined, cursor: "", count: 100, signal: AbortSignal.timeout(5_000) });
    expect(first.entries.map((e) => [e.key, JSON.parse(new TextDecoder().decode(e.value))])).toEqual([["doc/ann", FILTER_DOCS.ann]]);
  });

  test("an expired row is never returned (expiry is emulated by the driver)", async () => {
    await driver.set("exp/gone", utf8(JSON.stringify({ a: 1 })), 1);
    await driver.set("exp/kept", utf8(JSON.stringify({ a: 1 })), 0);
    await driver.sql`update prism_kv set expires_at = now() - interval '1 second' where namespace = ${namespaces[0]!} and key = ${Buffer.from("exp/gone")}`;
    expect((await scanAll("exp/", { op: "eq", path: ["a"], value: 1 })).keys).toEqual(["exp/kept"]);
  });

  test("a cursor of another prefix, or not one at all, is INVALID_ARGUMENT", async () => {
    const page = await driver.filterScan({ prefix: "doc/", filter: undefined, cursor: "", count: 2, signal: AbortSignal.timeout(5_000) });
    expect(page.nextCursor).not.toBe("");
    for (const [prefix, cursor] of [
      ["exp/", page.nextCursor],
      ["doc/", "garbage"],
    ]) {
      const err = await driver
        .filterScan({ prefix: prefix!, filter: undefined, cursor: cursor!, count: 2, signal: AbortSignal.timeout(5_000) })
        .catch((e) => e);
      expect(PrismError.from(err).code).toBe(Code.INVALID_ARGUMENT);
    }
  });
});
