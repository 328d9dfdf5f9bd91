/**
 * The PostgreSQL driver against the server `make services` starts (tests/helpers/services.ts): namespace isolation,
 * emulated expiry (invisible at once, swept in bounded batches), keyset scan order and cursors, odd keys, TLS modes
 * and error codes. Each test uses a namespace of its own and removes its rows.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { randomUUID } from "node:crypto";
import { join } from "node:path";
import { Code, PrismError } from "../sdk/grpc/errors";
import { createLogger } from "../sdk/observability/logger";
import { postgresUrl, requireService } from "../tests/helpers/services";
import { parsePostgresConfig } from "./config";
import { PostgresDriver } from "./driver";

const logger = createLogger({ level: "error" });
const drivers: PostgresDriver[] = [];
const namespaces: string[] = [];

/** The shared server's settings as a pattern config map. */
function serverConfig(): Record<string, unknown> {
  const u = new URL(postgresUrl());
  return {
    host: u.hostname,
    port: Number(u.port || 5432),
    database: decodeURIComponent(u.pathname.slice(1)),
    user: decodeURIComponent(u.username),
    password: decodeURIComponent(u.password),
  };
}

async function driver(extra: Record<string, unknown> = {}, namespace = `t-${randomUUID().slice(0, 8)}`): Promise<PostgresDriver> {
  const d = new PostgresDriver(parsePostgresConfig({ ...serverConfig(), ...extra }, { configFile: "test", namespace }), logger);
  drivers.push(d);
  namespaces.push(namespace);
  return d;
}

const utf8 = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array | undefined) => (b === undefined ? undefined : new TextDecoder().decode(b));
const codeOf = (p: Promise<unknown>) =>
  p.then(
    () => Code.OK,
    (e) => PrismError.from(e).code,
  );

beforeAll(async () => {
  await requireService("postgres");
});

afterAll(async () => {
  const cleaner = await driver({}, "cleanup");
  for (const ns of namespaces) await cleaner.sql`delete from prism_kv where namespace = ${ns}`;
  for (const d of drivers) await d.close();
});

describe("postgres driver", () => {
  test("basic operations; keys of one namespace are invisible to another", async () => {
    const a = await driver();
    const b = await driver();
    await a.set("k", utf8("from a"), 0);
    expect(text(await a.get("k"))).toBe("from a");
    expect(await b.get("k")).toBeUndefined();
    expect(await b.exists("k")).toBe(false);
    expect(await b.delete("k")).toBe(false);
    expect(await b.count("")).toBe(0);
    expect(await Array.fromAsync(b.scan({ prefix: "", limit: 0, cursor: "", withValues: false, signal: new AbortController().signal }))).toEqual([]);
    await b.set("k", utf8("from b"), 0);
    expect(text(await a.get("k"))).toBe("from a");
    expect(await b.batchDelete(["k", "k"])).toEqual([true, false]);
    expect(text(await a.get("k"))).toBe("from a");
    expect(await a.delete("k")).toBe(true);
    expect(await a.exists("k")).toBe(false);
  });

  test("odd keys round-trip: NUL, 0xff-ish code points, emoji, spaces, SQL quotes", async () => {
    const d = await driver();
    const keys = ["a\0b", "\u{10FFFF}", "😀/ü", "with space", "it's; drop table x; --", "%_\\", "\uFFFF"];
    await d.batchSet(keys.map((key, i) => ({ key, value: utf8(String(i)), ttlSeconds: 0 })));
    expect((await d.batchGet(keys)).map(text)).toEqual(keys.map((_, i) => String(i)));
    const scanned = await Array.fromAsync(d.scan({ prefix: "", limit: 0, cursor: "", withValues: false, signal: new AbortController().signal }));
    // Code-point order (UTF-8 byte order), which is not JavaScript's UTF-16 sort for astral characters.
    const byCodePoint = [...keys].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
    expect(scanned.map((e) => e.key)).toEqual(byCodePoint);
    expect(await d.count("\u{10FFFF}")).toBe(1);
  });

  test("scan pages are keyset-ordered, cursors stable while keys are added and removed", async () => {
    const d = await driver();
    const signal = new AbortController().signal;
    await d.batchSet(Array.from({ length: 20 }, (_, i) => ({ key: `p:${String(i).padStart(2, "0")}`, value: utf8(`v${i}`), ttlSeconds: 0 })));
    await d.set("q:other", utf8("x"), 0);
    const first = await Array.fromAsync(d.scan({ prefix: "p:", limit: 5, cursor: "", withValues: true, signal }));
    expect(first.map((e) => e.key)).toEqual(["p:00", "p:01", "p:02", "p:03", "p:04"]);
    expect(first.slice(0, -1).every((e) => e.nextCursor === undefined)).toBe(true);
    const cursor = first.at(-1)!.nextCursor!;
    expect(cursor).toBeString();
    await d.delete("p:05");
    await d.set("p:04a", utf8("new"), 0);
    await d.set("p:00a", utf8("behind the cursor"), 0);
    const second = await Array.fromAsync(d.scan({ prefix: "p:", limit: 5, cursor, withValues: true, signal }));
    expect(second.map((e) => e.key)).toEqual(["p:04a", "p:06", "p:07", "p:08", "p:09"]);
    expect(text(second[0]!.value)).toBe("new");
    // The last page carries no cursor.
    const rest = await Array.fromAsync(d.scan({ prefix: "p:", limit: 100, cursor: second.at(-1)!.nextCursor!, withValues: false, signal }));
    expect(rest.map((e) => e.key)).toEqual(Array.from({ length: 10 }, (_, i) => `p:${i + 10}`));
    expect(rest.at(-1)!.nextCursor).toBeUndefined();
    // A page that ends exactly at the last key has no cursor either.
    const exact = await Array.fromAsync(d.scan({ prefix: "p:1", limit: 10, cursor: "", withValues: false, signal }));
    expect(exact.length).toBe(10);
    expect(exact.at(-1)!.nextCursor).toBeUndefined();
    expect(await codeOf(Array.fromAsync(d.scan({ prefix: "q:", limit: 5, cursor, withValues: false, signal })))).toBe(Code.INVALID_ARGUMENT);
    expect(await codeOf(Array.fromAsync(d.scan({ prefix: "p:", limit: 5, cursor: "garbage", withValues: false, signal })))).toBe(Code.INVALID_ARGUMENT);
  });

  test("unlimited scans page internally past 1000 rows", async () => {
    const d = await driver();
    await d.batchSet(Array.from({ length: 2500 }, (_, i) => ({ key: `k${String(i).padStart(5, "0")}`, value: utf8("v"), ttlSeconds: 0 })));
    const all = await Array.fromAsync(d.scan({ prefix: "", limit: 0, cursor: "", withValues: false, signal: new AbortController().signal }));
    expect(all.length).toBe(2500);
    expect(new Set(all.map((e) => e.key)).size).toBe(2500);
    expect(all.every((e) => e.nextCursor === undefined)).toBe(true);
    expect(await d.count("k01")).toBe(1000);
  });

  test("batchSet: a key given twice keeps its last value; all or nothing", async () => {
    const d = await driver();
    await d.batchSet([
      { key: "dup", value: utf8("first"), ttlSeconds: 0 },
      { key: "x", value: utf8("x"), ttlSeconds: 0 },
      { key: "dup", value: utf8("last"), ttlSeconds: 0 },
    ]);
    expect(text(await d.get("dup"))).toBe("last");
    expect(await d.batchGet(["x", "missing", "dup"]).then((v) => v.map(text))).toEqual(["x", undefined, "last"]);
  });

  test("emulated expiry: invisible at once to every read, TTL answers like Redis, swept in bounded batches", async () => {
    const d = await driver({ sweep: { interval: "1h", batch: 3, max_batches_per_run: 2 } });
    expect(d.emulates).toEqual(["keyvalue_ttl"]);
    await d.batchSet(Array.from({ length: 8 }, (_, i) => ({ key: `e${i}`, value: utf8("v"), ttlSeconds: 1 })));
    await d.set("keep", utf8("v"), 0);
    await d.set("later", utf8("v"), 100);
    expect(await d.getTTL("keep")).toBe(-1);
    expect(await d.getTTL("missing")).toBe(-2);
    const ttl = await d.getTTL("later");
    expect(ttl).toBeGreaterThan(90);
    expect(ttl).toBeLessThanOrEqual(100);
    expect(await d.count("e")).toBe(8);
    // Wait until the server's clock passed the expiry (polling, no fixed sleep).
    for (let i = 0; i < 100 && (await d.count("e")) > 0; i++) await Bun.sleep(100);
    expect(await d.count("e")).toBe(0);
    expect(await d.get("e0")).toBeUndefined();
    expect(await d.exists("e1")).toBe(false);
    expect(await d.getTTL("e2")).toBe(-2);
    expect(await d.expire("e3", 10)).toBe(false);
    expect(await d.persist("e4")).toBe(false);
    expect(await d.delete("e5")).toBe(false);
    expect(await d.batchGet(["e6", "keep"]).then((v) => v.map(text))).toEqual([undefined, "v"]);
    // The rows are still there (e5 was deleted by the delete above) until the sweeper runs: 3 + 3 per run, bounded.
    const rows = async () => Number((await d.sql`select count(*) as n from prism_kv where namespace = ${d.config.namespace} and get_byte(key, 0) = 101`)[0].n);
    expect(await rows()).toBe(7);
    const sweeper = (d as unknown as { sweeper: { runOnce(): Promise<number> } }).sweeper;
    expect(await sweeper.runOnce()).toBe(6);
    expect(await rows()).toBe(1);
    expect(await sweeper.runOnce()).toBe(1);
    expect(await rows()).toBe(0);
    expect(text(await d.get("keep"))).toBe("v");
    expect(await d.exists("later")).toBe(true);
  });

  test("expire, persist and overwrite follow Redis", async () => {
    const d = await driver();
    await d.set("k", utf8("v"), 0);
    expect(await d.persist("k")).toBe(false);
    expect(await d.expire("k", 50)).toBe(true);
    expect(await d.getTTL("k")).toBeGreaterThan(40);
    expect(await d.persist("k")).toBe(true);
    expect(await d.getTTL("k")).toBe(-1);
    await d.set("k", utf8("v"), 50);
    await d.set("k", utf8("w"), 0);
    expect(await d.getTTL("k")).toBe(-1);
    expect(await d.expire("k", 0)).toBe(true);
    expect(await d.exists("k")).toBe(false);
    expect(await d.expire("k", 0)).toBe(false);
  });

  test("a server that is not there: UNAVAILABLE, breaker opens, health unhealthy", async () => {
    const d = await driver({ port: 1, connect_timeout: "1s", breaker: { failure_threshold: 2, open_duration: "30s" }, retry: { max_attempts: 1 } });
    expect(await d.connected()).toBe(false);
    expect(await codeOf(d.get("k"))).toBe(Code.UNAVAILABLE);
    expect(await codeOf(d.set("k", utf8("v"), 0))).toBe(Code.UNAVAILABLE);
    expect(d.circuitState()).toBe("open");
    const err = await d.get("k").then(
      () => undefined,
      (e) => PrismError.from(e),
    );
    expect(err!.code).toBe(Code.UNAVAILABLE);
    expect(err!.message).toContain("circuit open");
    const h = await d.health();
    expect(h.status).toBe("unhealthy");
    expect(h.message).toContain("127.0.0.1:1");
  });

  test("statement_timeout cancels a long statement: DEADLINE_EXCEEDED", async () => {
    const d = await driver({ statement_timeout: "200ms" });
    await d.set("k", utf8("v"), 0);
    const run = (d as unknown as { read(t: string, p: unknown[]): Promise<unknown> }).read.bind(d);
    const err = await run("select pg_sleep(2), $1::text", ["x"]).catch((e) => PrismError.from(e));
    expect((err as PrismError).code).toBe(Code.DEADLINE_EXCEEDED);
    expect((err as PrismError).message).toContain("statement_timeout");
    expect(text(await d.get("k"))).toBe("v");
    // A write cancelled by the server was rolled back: it says so rather than "outcome unknown".
    const write = (d as unknown as { write(t: string, p: unknown[]): Promise<unknown> }).write.bind(d);
    const werr = await write("select pg_sleep(2), $1::text", ["x"]).catch((e) => PrismError.from(e));
    expect((werr as PrismError).code).toBe(Code.DEADLINE_EXCEEDED);
    expect((werr as PrismError).message).toContain("rolled back, not applied");
  });

  test("a wrong password is UNAVAILABLE naming the cause", async () => {
    const d = await driver({ password: "wrong", retry: { max_attempts: 1 } });
    const err = await d.get("k").catch((e) => PrismError.from(e));
    expect((err as PrismError).code).toBe(Code.UNAVAILABLE);
    expect((err as PrismError).message).toContain("password authentication failed");
    // Never connected: a write certainly had no effect.
    expect(await codeOf(d.set("k", utf8("v"), 0))).toBe(Code.UNAVAILABLE);
  });

  const caFile = join(import.meta.dir, "..", ".services", "postgres", "tls", "ca.crt");
  describe("TLS (the server of scripts/services has a CA of its own)", () => {
    const sslOf = async (d: PostgresDriver) => (await d.sql`select ssl from pg_stat_ssl where pid = pg_backend_pid()`)[0].ssl;

    test("disable: a plain connection; require: encrypted", async () => {
      const plain = await driver({ tls: { mode: "disable" } });
      await plain.set("k", utf8("v"), 0);
      expect(await sslOf(plain)).toBe(false);
      const req = await driver({ tls: { mode: "require" } });
      await req.set("k", utf8("v"), 0);
      expect(await sslOf(req)).toBe(true);
    });

    test("verify-full with the CA: encrypted, for 127.0.0.1 and for localhost", async () => {
      const byIp = await driver({ tls: { mode: "verify-full", ca_file: caFile } });
      await byIp.set("k", utf8("v"), 0);
      expect(await sslOf(byIp)).toBe(true);
      const byName = await driver({ host: "localhost", tls: { mode: "verify-full", ca_file: caFile } });
      expect(await byName.exists("k")).toBe(false);
      expect(await sslOf(byName)).toBe(true);
    });

    test("verify-full refuses a server whose certificate does not match: no CA, or a wrong name", async () => {
      const noCa = await driver({ tls: { mode: "verify-full" }, retry: { max_attempts: 1 } });
      const e1 = await noCa.get("k").catch((e) => PrismError.from(e));
      expect((e1 as PrismError).code).toBe(Code.UNAVAILABLE);
      expect((e1 as PrismError).message).toContain("TLS");
      const wrongName = await driver({ tls: { mode: "verify-full", ca_file: caFile, server_name: "db.example.com" }, retry: { max_attempts: 1 } });
      expect(await codeOf(wrongName.get("k"))).toBe(Code.UNAVAILABLE);
    });
  });
});
