import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import type pg from "pg";
import { Operation } from "../../proto/gen/prism/patterns/cdc/cdc_pattern_pb";
import { type OwnRedis, startOwnRedis } from "../redis/harness";
import { admin, cdcClient, cdcProcess, changeId, dropRun, reader, redisState, runNames, sourceSlot, waitStreaming } from "./harness";
import { waitFor } from "../helpers/wait";

setDefaultTimeout(120_000);

/**
 * dist/cdc from a table of its own into a Redis Streams sink on a redis-server of the test's own (started with
 * `redis`), checkpoint in the shared Redis; started before the describe's tests, stopped and dropped after them.
 */
function cdcIntoOwnRedis(label: string, redis?: Parameters<typeof startOwnRedis>[0]) {
  const names = runNames(label);
  const state = redisState(names.id);
  // Filled in by beforeAll, before any test of the describe runs.
  const run = { names, T: `public.${names.table}` } as {
    names: typeof names;
    T: string;
    db: pg.Client;
    sink: OwnRedis;
    cdc: Awaited<ReturnType<typeof cdcProcess>>;
  };
  beforeAll(async () => {
    run.db = await admin();
    await run.db.query(`CREATE TABLE "${names.table}" (id int PRIMARY KEY, v int NOT NULL)`);
    run.sink = await startOwnRedis(redis);
    run.cdc = await cdcProcess({
      slots: { source: sourceSlot(names), sink: { driver: "redis", config: { address: run.sink.address } }, state: state.slot },
      tables: [{ name: names.table }],
      stream: `cdc-${names.id}`,
      checkpoint_interval: "50ms",
    });
    const c = cdcClient({ address: run.cdc.address });
    await waitStreaming(c);
    c.close();
  });
  afterAll(async () => {
    await run.cdc?.close();
    if (run.db) {
      await dropRun(run.db, names, [names.table]);
      await run.db.end();
    }
    await state.cleanup();
    await run.sink?.destroy();
  });
  return run;
}

// dist/cdc into a Redis Streams sink on a redis-server of the test's own, checkpoint in the shared Redis: row
// changes arrive in commit order, and after a kill -9 and a restart every change is in the sink exactly once.

describe("cdc: a Redis Streams sink", () => {
  const run = cdcIntoOwnRedis("redissink", { args: () => ["--appendonly", "no"] });
  const { names, T } = run;

  test("inserts, updates and deletes arrive in commit order; after kill -9 and a restart nothing is lost or repeated", async () => {
    for (let t = 0; t < 20; t++) {
      await run.db.query("BEGIN");
      await run.db.query(`INSERT INTO "${names.table}" SELECT g, 0 FROM generate_series($1::int, $1::int + 4) g`, [t * 5]);
      await run.db.query(`UPDATE "${names.table}" SET v = 1 WHERE id = $1::int`, [t * 5]);
      await run.db.query("COMMIT");
    }
    await run.db.query(`DELETE FROM "${names.table}" WHERE id = 0`);
    let c = cdcClient({ address: run.cdc.address });
    let r = reader(c);
    await r.waitCount(20 * 6 + 1, T, 60_000);
    await r.stop();
    c.close();
    await run.cdc.kill();
    // Written while the pattern is down: the slot keeps them, the restart delivers them.
    for (let t = 20; t < 30; t++) await run.db.query(`INSERT INTO "${names.table}" SELECT g, 0 FROM generate_series($1::int, $1::int + 4) g`, [t * 5]);
    await run.cdc.start();
    c = cdcClient({ address: run.cdc.address });
    r = reader(c);
    try {
      await r.waitCount(20 * 6 + 1 + 10 * 5, T, 60_000);
      await run.db.query(`INSERT INTO "${names.table}" VALUES (-1, 0)`);
      await r.waitCount(20 * 6 + 1 + 10 * 5 + 1, T, 30_000);
      const mine = r.events.filter((e) => e.table === T);
      const ids = mine.map(changeId);
      expect(new Set(ids).size).toBe(ids.length);
      expect(mine.length).toBe(20 * 6 + 1 + 10 * 5 + 1);
      expect(mine.filter((e) => e.key.id === "0").map((e) => e.operation)).toEqual([Operation.INSERT, Operation.UPDATE, Operation.DELETE]);
      expect(mine.filter((e) => e.key.id === "145").map((e) => [e.operation, e.newValues?.v])).toEqual([[Operation.INSERT, 0]]);
      expect(mine.at(-1)!.key).toEqual({ id: "-1" });
    } finally {
      await r.stop();
      c.close();
    }
  });
});

// The Redis Streams sink killed (-9) and started again on its AOF: capture falls behind meanwhile and says so,
// then every change arrives once (batches that failed are looked for in the stream before they are sent again).
describe("cdc: a Redis Streams sink outage", () => {
  const run = cdcIntoOwnRedis("redisout");
  const { names, T } = run;

  test("sink down: sink_unavailable reported, nothing dropped; back up: every change once", async () => {
    const insert = (t: number) => run.db.query(`INSERT INTO "${names.table}" SELECT g, $1::int FROM generate_series($1::int * 10, $1::int * 10 + 9) g`, [t]);
    for (let t = 0; t < 20; t++) await insert(t);
    let c = cdcClient({ address: run.cdc.address });
    let r = reader(c);
    await r.waitCount(200, T, 60_000);
    await r.stop();
    await run.sink.stop("SIGKILL");
    for (let t = 20; t < 50; t++) await insert(t);
    await waitFor(async () => (await c.cdc.getStatus({})).state === "sink_unavailable", "GetStatus says sink_unavailable", { timeoutMs: 30_000 });
    c.close();
    await run.sink.restart();
    c = cdcClient({ address: run.cdc.address });
    // Once capture appends again the driver's circuit is closed, and a Subscribe can read the sink.
    await waitFor(async () => (await c.cdc.getStatus({})).state === "streaming", "capture streams again", { timeoutMs: 30_000 });
    r = reader(c);
    try {
      await r.waitCount(500, T, 60_000);
      const mine = r.events.filter((e) => e.table === T);
      const ids = mine.map(changeId);
      expect(new Set(ids).size).toBe(ids.length);
      expect(mine.length).toBe(500);
      // Each row once (order holds per row, not across rows: batches of different rows retried after the outage may land in either order).
      expect(mine.map((e) => Number(e.key.id)).sort((x, y) => x - y)).toEqual(Array.from({ length: 500 }, (_, i) => i));
    } finally {
      await r.stop();
      c.close();
    }
  });
});
