import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import type pg from "pg";
import { Encoding, Operation } from "../../proto/gen/prism/patterns/cdc/cdc_pattern_pb";
import { waitFor } from "../helpers/wait";
import { admin, cdcClient, type CdcClient, changeId, dropRun, reader, runNames, sourceSlot, startCdc, waitStreaming } from "./harness";

setDefaultTimeout(60_000);

// dist/cdc over a memstore sink and state: every kind of row change, transactions, per-row order, masking,
// renames, row filters, through Subscribe and GetStatus.

describe("cdc: row changes into a memstore stream", () => {
  const names = runNames("capture");
  const users = names.table;
  const other = `${names.table}_o`;
  /** The table as events name it (qualified). */
  const T = `public.${users}`;
  let db: pg.Client;
  let cdc: Awaited<ReturnType<typeof startCdc>>;
  let c: CdcClient;
  let r: ReturnType<typeof reader>;

  beforeAll(async () => {
    db = await admin();
    await db.query(`CREATE TABLE "${users}" (id int PRIMARY KEY, name text, ssn text, status text, score numeric, born timestamptz)`);
    await db.query(`CREATE TABLE "${other}" (a int, b int, note text, PRIMARY KEY (a, b))`);
    await db.query(`ALTER TABLE "${other}" REPLICA IDENTITY FULL`);
    cdc = await startCdc({
      slots: { source: sourceSlot(names), sink: { driver: "memstore" }, state: { driver: "memstore" } },
      tables: [
        { name: users, mask: ["ssn"], rename: { name: "full_name" }, where: [{ column: "status", op: "ne", value: "hidden" }] },
        { name: `public.${other}`, as: "other" },
      ],
      stream: `cdc-${names.id}`,
    });
    c = cdcClient({ address: cdc.address });
    await waitStreaming(c);
    r = reader(c);
  }, 60_000);

  afterAll(async () => {
    await r?.stop();
    c?.close();
    await cdc?.close();
    await dropRun(db, names, [users, other]);
    await db.end();
  }, 60_000);

  test("insert, update, delete: table, operation, key, values, LSN, time, xid, position", async () => {
    const before = Date.now();
    await db.query(`INSERT INTO "${users}" VALUES (1, 'ann', '111-22', 'live', 12.5, '2026-01-02T03:04:05Z')`);
    await db.query(`UPDATE "${users}" SET name = 'anne' WHERE id = 1`);
    await db.query(`DELETE FROM "${users}" WHERE id = 1`);
    await r.waitCount(3, T);
    const [ins, upd, del] = r.events.filter((e) => e.table === T);
    expect(ins!.operation).toBe(Operation.INSERT);
    expect(ins!.key).toEqual({ id: "1" });
    expect(ins!.newValues).toEqual({ id: 1, full_name: "ann", status: "live", score: "12.5", born: "2026-01-02T03:04:05.000Z" });
    expect(ins!.oldValues).toBeUndefined();
    expect(upd!.operation).toBe(Operation.UPDATE);
    expect(upd!.newValues?.full_name).toBe("anne");
    expect(del!.operation).toBe(Operation.DELETE);
    expect(del!.key).toEqual({ id: "1" });
    expect(del!.newValues).toBeUndefined();
    expect(del!.oldValues).toEqual({ id: 1 }); // REPLICA IDENTITY DEFAULT: the key only
    for (const e of [ins!, upd!, del!]) {
      expect(e.position).toBe(1n);
      expect(e.transactionId).toBeGreaterThan(0);
      expect(Number(e.commitTime!.seconds) * 1000).toBeGreaterThanOrEqual(Math.floor(before / 1000) * 1000 - 5_000);
    }
    // Three transactions, committed in this order: their LSNs increase.
    const lsns = [ins!, upd!, del!].map((e) => BigInt(`0x${e.lsn.replace("/", "").padStart(16, "0")}`));
    expect(new Set([ins!.lsn, upd!.lsn, del!.lsn]).size).toBe(3);
    expect([...lsns].sort((a, b) => (a < b ? -1 : 1))).toEqual(lsns);
  });

  test("a masked column never leaves the pattern; filtered rows are not captured", async () => {
    await db.query(`INSERT INTO "${users}" VALUES (2, 'bo', 'SECRET-SSN-2', 'hidden', 1, now()), (3, 'cy', 'SECRET-SSN-3', 'live', 1, now())`);
    await db.query(`UPDATE "${users}" SET ssn = 'SECRET-SSN-3b' WHERE id = 3`);
    await r.waitCount(5, T);
    const mine = r.events.filter((e) => e.table === T && (e.key.id === "2" || e.key.id === "3"));
    expect(mine.map((e) => e.key.id)).toEqual(["3", "3"]);
    for (const e of r.events) expect(JSON.stringify(e.newValues ?? {}) + JSON.stringify(e.oldValues ?? {})).not.toContain("SECRET-SSN");
  });

  test("a multi-row transaction: one commit LSN, positions 1..n in statement order, one xid", async () => {
    // Counted before the commit: its changes may be in the reader before COMMIT's answer reaches the test.
    const n = r.events.length;
    await db.query("BEGIN");
    for (let i = 10; i < 20; i++) await db.query(`INSERT INTO "${users}" VALUES ($1, 'm', null, 'live', 0, now())`, [i]);
    await db.query(`UPDATE "${users}" SET name = 'n' WHERE id = 10`);
    await db.query(`DELETE FROM "${users}" WHERE id = 11`);
    await db.query("COMMIT");
    await r.waitCount(n + 12);
    const tx = r.events.slice(n);
    expect(new Set(tx.map((e) => e.lsn)).size).toBe(1);
    expect(new Set(tx.map((e) => e.transactionId)).size).toBe(1);
    expect(tx.map((e) => Number(e.position))).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    expect(tx.slice(10).map((e) => [e.operation, e.key.id])).toEqual([
      [Operation.UPDATE, "10"],
      [Operation.DELETE, "11"],
    ]);
  });

  test("replica identity FULL gives old values; the key is the primary key; the table renamed", async () => {
    await db.query(`INSERT INTO "${other}" VALUES (1, 2, 'x')`);
    await db.query(`UPDATE "${other}" SET note = 'y' WHERE a = 1`);
    await db.query(`DELETE FROM "${other}" WHERE a = 1`);
    await r.waitCount(3, "other");
    const [, upd, del] = r.events.filter((e) => e.table === "other");
    expect(upd!.key).toEqual({ a: "1", b: "2" });
    expect(upd!.oldValues).toEqual({ a: 1, b: 2, note: "x" });
    expect(upd!.newValues).toEqual({ a: 1, b: 2, note: "y" });
    expect(del!.oldValues).toEqual({ a: 1, b: 2, note: "y" });
  });

  test("truncate: one event per table, no key", async () => {
    await db.query(`TRUNCATE "${users}", "${other}"`);
    await waitFor(() => r.events.filter((e) => e.operation === Operation.TRUNCATE).length >= 2, "both truncates arrived");
    const truncates = r.events.filter((e) => e.operation === Operation.TRUNCATE);
    expect(truncates.map((e) => e.table).sort()).toEqual(["other", T].sort());
    expect(truncates[0]!.key).toEqual({});
  });

  test("per-row order: 20 successive updates of 10 rows arrive in commit order for each row", async () => {
    await db.query(`INSERT INTO "${users}" SELECT g, 'v0', null, 'live', 0, now() FROM generate_series(100, 109) g`);
    for (let v = 1; v <= 20; v++) await db.query(`UPDATE "${users}" SET name = $1 WHERE id BETWEEN 100 AND 109`, [`v${v}`]);
    await waitFor(
      () => r.events.filter((e) => e.table === T && e.key.id === "109" && e.newValues?.full_name === "v20").length === 1,
      "the last update arrived",
    );
    for (let id = 100; id < 110; id++) {
      const names = r.events.filter((e) => e.table === T && e.key.id === String(id)).map((e) => e.newValues?.full_name);
      expect(names).toEqual(Array.from({ length: 21 }, (_, v) => `v${v}`));
    }
    const ids = r.events.map(changeId);
    expect(new Set(ids).size).toBe(ids.length);
    const rates: number[] = [];
    await waitFor(
      async () => {
        // Changes keep coming while it is polled, so the rate's window (the last seconds) is never empty.
        await db.query(`UPDATE "${users}" SET name = 'rate' WHERE id = 100`);
        rates.push((await c.cdc.getStatus({})).eventsPerSecond);
        return rates[rates.length - 1]! > 0;
      },
      "GetStatus reports a rate after the burst",
      { timeoutMs: 10_000, intervalMs: 200 },
    ).catch((err) => {
      throw new Error(`${(err as Error).message}; rates seen: ${rates.join(" ")}`);
    });
  });

  test("Subscribe from an LSN, GetStatus, GetCapabilities", async () => {
    const last = r.events[r.events.length - 1]!;
    const from = reader(c, last.lsn);
    try {
      await from.waitCount(1);
      // Everything before that LSN is skipped: the stream starts with the first change of that transaction.
      expect(changeId(from.events[0]!)).toBe(changeId(r.events.find((e) => e.lsn === last.lsn)!));
    } finally {
      await from.stop();
    }
    await waitFor(async () => (await c.cdc.getStatus({})).lagSeconds === 0, "nothing waits for the sink");
    const s = await c.cdc.getStatus({});
    expect(s.slot).toBe(names.slot);
    expect(s.state).toBe("streaming");
    expect(s.eventsTotal).toBeGreaterThanOrEqual(BigInt(r.events.length));
    const slot = await db.query("SELECT confirmed_flush_lsn::text AS l FROM pg_replication_slots WHERE slot_name = $1", [names.slot]);
    expect(slot.rows[0].l).not.toBe("0/0");
    const caps = await c.cdc.getCapabilities({});
    expect(caps.encoding).toBe(Encoding.PROTOBUF);
    expect(caps.tables).toEqual([`public.${users}`, `public.${other}`]);
    expect(caps.bindings.map((b) => [b.slot, b.backendType])).toEqual([
      ["source", "postgres_logical"],
      ["sink", "memstore"],
      ["state", "memstore"],
    ]);
  });
});
