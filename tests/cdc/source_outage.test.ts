import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import pg from "pg";
import { waitFor } from "../helpers/wait";
import { type OwnPostgres, startOwnPostgres } from "../postgres/server";
import { cdcClient, changeId, reader, startCdc, waitStreaming } from "./harness";

setDefaultTimeout(120_000);

// PostgreSQL itself stopped (SIGKILL, by pid) and started again under a running dist/cdc: a server of the test's
// own, with wal_level=logical (ALTER SYSTEM, then a restart).

describe("cdc: PostgreSQL killed and started again", () => {
  let server: OwnPostgres;
  const url = () => `postgres://prism@127.0.0.1:${server.port}/postgres`;

  const query = async (sql: string, params: unknown[] = []) => {
    const c = new pg.Client({ connectionString: url() });
    c.on("error", () => undefined);
    await c.connect();
    try {
      return await c.query(sql, params);
    } finally {
      await c.end();
    }
  };

  beforeAll(async () => {
    server = await startOwnPostgres();
    await query("ALTER SYSTEM SET wal_level = logical");
    await server.kill();
    await server.start();
    expect((await query("SHOW wal_level")).rows[0].wal_level).toBe("logical");
    await query("CREATE TABLE t (id int PRIMARY KEY, v text)");
  });

  afterAll(async () => {
    await server?.close(); // its slot goes with its data
  });

  test("changes committed just before the crash and after the restart arrive, each once", async () => {
    const cdc = await startCdc({
      slots: {
        source: { driver: "postgres_logical", config: { url: url(), slot: "outage", status_interval: "1s", connect_timeout: "2s" } },
        sink: { driver: "memstore" },
        state: { driver: "memstore" },
      },
      tables: [{ name: "t" }],
    });
    const c = cdcClient({ address: cdc.address });
    const r = reader(c);
    try {
      await waitStreaming(c);
      for (let i = 0; i < 50; i++) await query("INSERT INTO t SELECT g, 'a' FROM generate_series($1::int, $1::int + 9) g", [i * 10]);
      await server.kill();
      await waitFor(async () => (await c.cdc.getStatus({})).state === "source_unavailable", "GetStatus reports the source unavailable", { timeoutMs: 30_000 });
      await server.start();
      for (let i = 50; i < 100; i++) await query("INSERT INTO t SELECT g, 'b' FROM generate_series($1::int, $1::int + 9) g", [i * 10]);
      await r.waitCount(1000, "public.t", 60_000);
      await query("INSERT INTO t VALUES (-1, 'marker')");
      await waitFor(() => r.events.some((e) => e.key.id === "-1"), "the marker arrived", { timeoutMs: 30_000 });
      const rows = r.events.filter((e) => e.key.id !== "-1");
      expect(rows.length).toBe(1000);
      expect(new Set(rows.map((e) => e.key.id)).size).toBe(1000);
      expect(new Set(r.events.map(changeId)).size).toBe(r.events.length);
      expect((await c.cdc.getStatus({})).state).toBe("streaming");
    } finally {
      await r.stop();
      c.close();
      await cdc.close();
    }
  });
});
