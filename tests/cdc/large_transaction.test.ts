import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import type pg from "pg";
import { waitFor } from "../helpers/wait";
import { admin, cdcClient, dropRun, reader, runNames, sourceSlot, startCdc, waitStreaming } from "./harness";

setDefaultTimeout(180_000);

const ROWS = 100_000;

describe("cdc: a transaction of 100k rows", () => {
  const names = runNames("large");
  let db: pg.Client;

  beforeAll(async () => {
    db = await admin();
    await db.query(`CREATE TABLE "${names.table}" (id int PRIMARY KEY, note text)`);
  });

  afterAll(async () => {
    await dropRun(db, names, [names.table]);
    await db.end();
  });

  test("every row arrives once, positions 1..100000 under one commit LSN", async () => {
    const cdc = await startCdc({
      slots: { source: sourceSlot(names), sink: { driver: "memstore", config: { max_stream_records: 200_000 } }, state: { driver: "memstore" } },
      tables: [{ name: names.table }],
      stream: `cdc-${names.id}`,
      max_buffered: 5_000,
    });
    const c = cdcClient({ address: cdc.address });
    try {
      await waitStreaming(c);
      const started = Date.now();
      await db.query(`INSERT INTO "${names.table}" SELECT g, 'row ' || g FROM generate_series(1, ${ROWS}) g`);
      await waitFor(async () => (await c.cdc.getStatus({})).eventsTotal >= BigInt(ROWS), `${ROWS} changes were delivered`, {
        timeoutMs: 150_000,
        intervalMs: 250,
      });
      const seconds = (Date.now() - started) / 1000;
      console.log(`cdc large transaction: ${ROWS} rows committed and delivered in ${seconds.toFixed(1)} s`);
      const r = reader(c);
      try {
        await r.waitCount(ROWS, undefined, 60_000);
        expect(r.events.length).toBe(ROWS);
        expect(new Set(r.events.map((e) => e.lsn)).size).toBe(1);
        const positions = r.events.map((e) => Number(e.position));
        expect(positions[0]).toBe(1);
        expect(positions.every((p, i) => p === i + 1)).toBe(true);
      } finally {
        await r.stop();
      }
    } finally {
      c.close();
      await cdc.close();
    }
  });
});
