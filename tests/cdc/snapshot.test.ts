import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import type pg from "pg";
import { type ChangeEvent, Operation } from "../../proto/gen/prism/patterns/cdc/cdc_pattern_pb";
import { waitFor } from "../helpers/wait";
import { admin, cdcClient, changeId, dropRun, reader, runNames, sourceSlot, startCdc, waitStreaming } from "./harness";

setDefaultTimeout(120_000);

/** The table as the events rebuild it: id -> v, applying each event in arrival order. */
function replay(events: ChangeEvent[]): Map<string, number> {
  const rows = new Map<string, number>();
  for (const e of events) {
    if (e.operation === Operation.DELETE) rows.delete(e.key.id!);
    else if (e.operation === Operation.TRUNCATE) rows.clear();
    else rows.set(e.key.id!, e.newValues!.v as number);
  }
  return rows;
}

describe("cdc: initial snapshot hands over to streaming", () => {
  const names = runNames("snap");
  const T = `public.${names.table}`;
  let db: pg.Client;
  let writerDb: pg.Client;

  beforeAll(async () => {
    db = await admin();
    writerDb = await admin();
    await db.query(`CREATE TABLE "${names.table}" (id int PRIMARY KEY, v int NOT NULL)`);
    await db.query(`INSERT INTO "${names.table}" SELECT g, 0 FROM generate_series(1, 2000) g`);
  });

  afterAll(async () => {
    await dropRun(db, names, [names.table]);
    await writerDb.end();
    await db.end();
  });

  test("rows that existed come once as snapshot inserts, changes made during and after it stream: no gap, no overlap", async () => {
    // Writes keep committing while the slot is created and the snapshot is read.
    let stop = false;
    let n = 0;
    const writer = (async () => {
      while (!stop) {
        n++;
        await writerDb.query("BEGIN");
        await writerDb.query(`UPDATE "${names.table}" SET v = v + 1 WHERE id = $1`, [1 + (n % 2000)]);
        await writerDb.query(`INSERT INTO "${names.table}" VALUES ($1, 0)`, [10_000 + n]);
        if (n % 7 === 0) await writerDb.query(`DELETE FROM "${names.table}" WHERE id = $1`, [1 + ((n * 13) % 2000)]);
        await writerDb.query("COMMIT");
      }
    })();
    const cdc = await startCdc({
      slots: { source: sourceSlot(names), sink: { driver: "memstore" }, state: { driver: "memstore" } },
      tables: [{ name: names.table }],
      stream: `cdc-${names.id}`,
      snapshot: true,
      encoding: "json",
    });
    const c = cdcClient({ address: cdc.address });
    const r = reader(c);
    try {
      await waitStreaming(c, 60_000);
      await waitFor(() => r.events.length > 2100, "the snapshot and some streamed changes arrived", { timeoutMs: 60_000 });
      stop = true;
      await writer;
      await writerDb.query(`INSERT INTO "${names.table}" VALUES (-1, 0)`);
      await waitFor(() => r.events.some((e) => e.key.id === "-1"), "the marker arrived", { timeoutMs: 30_000 });

      const snapshot = r.events.filter((e) => e.transactionId === 0);
      const streamed = r.events.filter((e) => e.transactionId !== 0);
      expect(snapshot.length).toBeGreaterThan(1500);
      expect(snapshot.every((e) => e.operation === Operation.INSERT && e.table === T)).toBe(true);
      expect(new Set(snapshot.map((e) => e.key.id)).size).toBe(snapshot.length);
      // The snapshot comes first; every streamed change is committed after the slot's consistent point.
      expect(r.events.slice(0, snapshot.length).every((e) => e.transactionId === 0)).toBe(true);
      const at = BigInt(`0x${snapshot[0]!.lsn.replace("/", "").padStart(16, "0")}`);
      const lsnOf = (e: ChangeEvent) => (BigInt(`0x${e.lsn.split("/")[0]}`) << 32n) | BigInt(`0x${e.lsn.split("/")[1]}`);
      expect(streamed.every((e) => lsnOf(e) > lsnOf(snapshot[0]!))).toBe(true);
      expect(at).toBeGreaterThan(0n);
      // No overlap: no row is inserted twice (a snapshot row re-streamed, or a streamed insert also in the snapshot).
      const inserts = r.events.filter((e) => e.operation === Operation.INSERT).map((e) => e.key.id);
      expect(new Set(inserts).size).toBe(inserts.length);
      // No gap: replaying the events gives the table as it is.
      const actual = await db.query(`SELECT id, v FROM "${names.table}"`);
      expect(replay(r.events)).toEqual(new Map(actual.rows.map((row: { id: number; v: number }) => [String(row.id), row.v])));
      const ids = r.events.map(changeId);
      expect(new Set(ids).size).toBe(ids.length);
    } finally {
      stop = true;
      await writer;
      await r.stop();
      c.close();
      await cdc.close();
    }
  });
});
