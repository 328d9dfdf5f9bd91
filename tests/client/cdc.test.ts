/**
 * CDC through dist/proxy and dist/cdc (PostgreSQL at 5433, memstore sink and state): the client's cdc module —
 * subscribe from the start and from an LSN — and prismctl cdc status / tail / caps (resumption after a broken
 * stream: client/src/cdc.test.ts). Per-run table, slot and publication, dropped afterwards.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type pg from "pg";
import { type ChangeEvent, connect, type PrismClient } from "../../client/src/index";
import { Operation } from "../../proto/gen/prism/patterns/cdc/cdc_pattern_pb";
import { admin, dropRun, runNames, sourceSlot } from "../cdc/harness";
import { waitFor } from "../helpers/wait";
import { requireBuilt } from "../proxy/harness";
import { type RunningProxy, startProxy, prismctlOn } from "./proxy";

const names = runNames("client");
let db: pg.Client;
let proxy: RunningProxy;
let client: PrismClient;
const id = (e: ChangeEvent) => `${e.lsn}/${e.position}`;

beforeAll(async () => {
  requireBuilt("prismctl", "proxy", "cdc");
  db = await admin();
  await db.query(`CREATE TABLE "${names.table}" (id int PRIMARY KEY, name text)`);
  proxy = await startProxy([
    {
      name: "changes",
      pattern: "cdc",
      config: { tables: [{ name: names.table, as: "items" }], stream: "changes", encoding: "protobuf" },
      slots: { source: sourceSlot(names), sink: { driver: "memstore" }, state: { driver: "memstore" } },
    },
  ]);
  client = await connect({ address: proxy.address, namespace: "changes", deadline: 10_000, retry: { attempts: 5, initialBackoffMs: 20, maxBackoffMs: 200 } });
  await waitFor(async () => (await client.cdc.status()).state === "streaming", "capture streaming", { timeoutMs: 60_000 });
}, 120_000);
afterAll(async () => {
  client?.close();
  await proxy?.close();
  if (db) {
    await dropRun(db, names, [names.table]);
    await db.end();
  }
}, 60_000);

const ctl = prismctlOn(() => proxy, "changes");

describe("cdc via @prism/client", () => {
  test("subscribe yields committed changes in order; from an LSN it starts at that commit", async () => {
    const ac = new AbortController();
    const got: ChangeEvent[] = [];
    const reading = (async () => {
      for await (const e of client.cdc.subscribe({ signal: ac.signal })) got.push(e);
    })().catch(() => {});
    try {
      await db.query("BEGIN");
      await db.query(`INSERT INTO "${names.table}" VALUES (1, 'a'), (2, 'b')`);
      await db.query("COMMIT");
      await db.query(`UPDATE "${names.table}" SET name = 'B' WHERE id = 2`);
      await waitFor(() => got.length >= 3, "three changes");
      expect(got.map((e) => [e.table, e.operation, e.key.id, e.position])).toEqual([
        ["items", Operation.INSERT, "1", 1n],
        ["items", Operation.INSERT, "2", 2n],
        ["items", Operation.UPDATE, "2", 1n],
      ]);
      expect(got[2]!.newValues).toEqual({ id: 2, name: "B" });
      const from: ChangeEvent[] = [];
      for await (const e of client.cdc.subscribe({ fromLsn: got[2]!.lsn, signal: AbortSignal.timeout(20_000) })) {
        from.push(e);
        break;
      }
      expect(id(from[0]!)).toBe(id(got[2]!));
    } finally {
      ac.abort();
      await reading;
    }
  }, 60_000);
});

describe("prismctl cdc", () => {
  test("status, tail --from --count, caps", async () => {
    const st = await ctl("cdc", "status");
    expect(st.code).toBe(0);
    expect(st.stdout).toStartWith(`state streaming\nslot ${names.slot}, confirmed `);
    const j = JSON.parse((await ctl("--json", "cdc", "status")).stdout);
    expect([j.state, j.slot]).toEqual(["streaming", names.slot]);
    await db.query(`DELETE FROM "${names.table}" WHERE id = 1`);
    const all = (await ctl("--json", "cdc", "tail", "--count", "4")).stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(all.map((e) => [e.operation, e.key.id])).toEqual([
      ["insert", "1"],
      ["insert", "2"],
      ["update", "2"],
      ["delete", "1"],
    ]);
    const last = await ctl("cdc", "tail", "--from", all[3].lsn, "--count", "1");
    expect(last.stdout).toBe(`${all[3].lsn}/1 delete items {"id":"1"} {"id":1}\n`);
    const caps = await ctl("caps", "cdc");
    expect(caps.stdout).toStartWith("namespace changes: change data capture, source postgres_logical, sink memstore (stream changes), state memstore\n");
    expect(caps.stdout).toContain("tables: public.");
  }, 60_000);
});
