import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import type pg from "pg";
import { Operation } from "../../proto/gen/prism/patterns/cdc/cdc_pattern_pb";
import { waitFor } from "../helpers/wait";
import { freePort } from "../nats/server";
import { admin, cdcClient, cdcProcess, changeId, dropRun, natsSink, reader, redisState, runNames, sourceSlot, waitStreaming } from "./harness";

setDefaultTimeout(120_000);

// dist/cdc into a JetStream sink on a nats-server of the test's own, checkpoint in Redis. The sink's own
// deduplication (JetStream message ids) is switched off (sink_idempotency: false), so "once" below is the
// pattern's: the slot replays from its confirmed LSN and the checkpoint (LSN, position) drops what the sink has.

describe("cdc: kill -9 mid-stream, sink outage, retained-WAL bound", () => {
  const names = runNames("durable");
  const T = `public.${names.table}`;
  let db: pg.Client;
  let sink: Awaited<ReturnType<typeof natsSink>>;
  const state = redisState(names.id);
  let cdc: Awaited<ReturnType<typeof cdcProcess>>;
  let metricsPort: number;

  beforeAll(async () => {
    db = await admin();
    await db.query(`CREATE TABLE "${names.table}" (id int PRIMARY KEY, v int NOT NULL, pad text)`);
    sink = await natsSink();
    metricsPort = await freePort();
    cdc = await cdcProcess(
      {
        slots: { source: sourceSlot(names), sink: sink.slot, state: state.slot },
        tables: [{ name: names.table }],
        stream: `cdc-${names.id}`,
        sink_idempotency: false,
        max_lag_bytes: "512KiB",
        checkpoint_interval: "50ms",
      },
      ["--metrics-port", String(metricsPort)],
    );
    const c = cdcClient({ address: cdc.address });
    await waitStreaming(c);
    c.close();
  });

  afterAll(async () => {
    await cdc?.close();
    await dropRun(db, names, [names.table]);
    await state.cleanup();
    await sink?.server.close();
    await db.end();
  });

  test("kill -9 while changes stream in: after the restart every change is in the sink exactly once, rows in order", async () => {
    const txns = 300;
    let written = 0;
    let stop = false;
    // 300 transactions of 10 inserts and 5 updates each; the writer holds after the first half until the pattern
    // was killed, so the kill always falls mid-stream (a fast writer could otherwise finish before it).
    let killed = () => {};
    const afterKill = new Promise<void>((r) => (killed = r));
    const writer = (async () => {
      for (let t = 0; t < txns && !stop; t++) {
        if (t === txns / 2) await afterKill;
        await db.query("BEGIN");
        await db.query(`INSERT INTO "${names.table}" SELECT g, 0, null FROM generate_series($1::int, $1::int + 9) g`, [t * 10]);
        await db.query(`UPDATE "${names.table}" SET v = v + 1 WHERE id BETWEEN $1::int AND $1::int + 4`, [t * 10]);
        await db.query("COMMIT");
        written++;
      }
    })();
    let c = cdcClient({ address: cdc.address });
    await waitFor(async () => (await c.cdc.getStatus({})).eventsTotal > 600n, "600 changes were delivered before the kill", { timeoutMs: 60_000 });
    c.close();
    await cdc.kill();
    const atKill = written;
    killed();
    await cdc.start();
    c = cdcClient({ address: cdc.address });
    const r = reader(c);
    try {
      await writer;
      expect(atKill).toBeLessThan(txns); // the kill happened mid-stream: the writer went on after it
      await r.waitCount(txns * 15, T, 90_000);
      // A marker committed after everything: once it is in, every earlier change would be too.
      await db.query(`INSERT INTO "${names.table}" VALUES (-1, 0, 'marker')`);
      await waitFor(() => r.events.some((e) => e.key.id === "-1"), "the marker arrived", { timeoutMs: 30_000 });
      const mine = r.events.filter((e) => e.table === T && e.key.id !== "-1");
      const ids = mine.map(changeId);
      expect(new Set(ids).size).toBe(ids.length); // 0 duplicates
      expect(mine.length).toBe(txns * 15); // 0 lost
      for (const id of [0, 4, 1234, 2995]) {
        const ops = mine.filter((e) => e.key.id === String(id)).map((e) => [e.operation, e.newValues?.v]);
        expect(ops).toEqual(
          id % 10 < 5
            ? [
                [Operation.INSERT, 0],
                [Operation.UPDATE, 1],
              ]
            : [[Operation.INSERT, 0]],
        );
      }
    } finally {
      stop = true;
      killed();
      await writer;
      await r.stop();
      c.close();
    }
  });

  test("sink down: capture falls behind with lag reported, the slot stays, the WAL bound is reported; back up: nothing lost, nothing twice", async () => {
    const c = cdcClient({ address: cdc.address });
    const r = reader(c);
    try {
      await db.query(`INSERT INTO "${names.table}" VALUES (-2, 0, 'before')`);
      await waitFor(() => r.events.some((e) => e.key.id === "-2"), "the change before the outage arrived", { timeoutMs: 30_000 });
      await r.stop();
      const confirmedBefore = (await c.cdc.getStatus({})).confirmedLsn;
      await sink.server.stop(); // SIGKILL by pid
      // ~1 MB of changes while the sink is down: over the 512 KiB bound.
      for (let b = 0; b < 10; b++) {
        await db.query(`INSERT INTO "${names.table}" SELECT g, 0, repeat('x', 1000) FROM generate_series($1::int, $1::int + 99) g`, [10_000 + b * 100]);
      }
      await waitFor(async () => (await c.cdc.getStatus({})).state === "wal_limit_exceeded", "GetStatus reports wal_limit_exceeded", { timeoutMs: 30_000 });
      const down = await c.cdc.getStatus({});
      expect(down.error).toContain("max_lag_bytes");
      expect(Number(down.lagBytes)).toBeGreaterThan(512 * 1024);
      expect(down.lagSeconds).toBeGreaterThan(0);
      expect(await metric("prism_cdc_wal_limit_exceeded")).toBe(1);
      expect(await metric("prism_cdc_lag_bytes")).toBeGreaterThan(512 * 1024);
      // The slot did not move past what the sink has.
      const slot = await db.query("SELECT confirmed_flush_lsn::text AS l FROM pg_replication_slots WHERE slot_name = $1", [names.slot]);
      expect(lsnValue(slot.rows[0].l)).toBeLessThanOrEqual(lsnValue(down.confirmedLsn));
      expect(lsnValue(down.confirmedLsn)).toBeGreaterThanOrEqual(lsnValue(confirmedBefore));

      await sink.server.start();
      await waitFor(async () => (await c.cdc.getStatus({})).state === "streaming", "capture streams again", { timeoutMs: 60_000 });
      await db.query(`INSERT INTO "${names.table}" VALUES (-3, 0, 'after')`);
      const again = reader(c);
      try {
        await waitFor(() => again.events.some((e) => e.key.id === "-3"), "the change after the outage arrived", { timeoutMs: 60_000 });
        const outage = again.events.filter((e) => Number(e.key.id) >= 10_000);
        expect(outage.length).toBe(1000);
        expect(new Set(outage.map(changeId)).size).toBe(1000);
        const all = again.events.map(changeId);
        expect(new Set(all).size).toBe(all.length);
      } finally {
        await again.stop();
      }
      expect(await metric("prism_cdc_wal_limit_exceeded")).toBe(0);
    } finally {
      await r.stop();
      c.close();
    }
  });

  async function metric(name: string): Promise<number> {
    const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
    const line = text.split("\n").find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
    if (!line) throw new Error(`metric ${name} not exported`);
    return Number(line.split(" ").pop());
  }
});

function lsnValue(text: string): bigint {
  const [hi, lo] = text.split("/");
  return (BigInt(`0x${hi}`) << 32n) | BigInt(`0x${lo}`);
}
