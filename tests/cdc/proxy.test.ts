import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import type pg from "pg";
import { Encoding, Operation } from "../../proto/gen/prism/patterns/cdc/cdc_pattern_pb";
import { proxyTarget } from "../helpers/proxy_target";
import { kafkaBrokers, requireService } from "../helpers/services";
import { waitFor } from "../helpers/wait";
import { deleteNamespaceTopics } from "../kafka/target";
import { admin, cdcClient, changeId, dropRun, redisState, runNames, reader, sourceSlot } from "./harness";

setDefaultTimeout(120_000);

// dist/cdc launched by dist/proxy for a namespace: Kafka sink, JSON events, checkpoint in Redis; Subscribe and
// GetStatus through the proxy.

describe("cdc through the proxy: Kafka sink, JSON events", () => {
  const names = runNames("proxy");
  const namespace = `cdc-${names.id.replace(/_/g, "-")}`;
  const T = `public.${names.table}`;
  const state = redisState(names.id);
  let db: pg.Client;
  let proxy: Awaited<ReturnType<typeof proxyTarget>>;

  beforeAll(async () => {
    await requireService("kafka");
    db = await admin();
    await db.query(`CREATE TABLE "${names.table}" (id int PRIMARY KEY, name text, secret text)`);
    proxy = await proxyTarget("cdc", namespace, { tables: [{ name: names.table, mask: ["secret"] }], stream: "changes", encoding: "json" }, undefined, {
      source: sourceSlot(names),
      sink: { driver: "kafka", config: { brokers: kafkaBrokers(), partitions: 1 } },
      state: state.slot,
    });
  });

  afterAll(async () => {
    await proxy?.close();
    await dropRun(db, names, [names.table]);
    await state.cleanup();
    await deleteNamespaceTopics(kafkaBrokers(), namespace);
    await db.end();
  });

  test("GetStatus, GetCapabilities and Subscribe reach the pattern; events are in Kafka once, masked column absent", async () => {
    const c = cdcClient(proxy);
    try {
      await waitFor(async () => (await c.cdc.getStatus({})).state === "streaming", "capture streams through the proxy", { timeoutMs: 60_000 });
      const caps = await c.cdc.getCapabilities({});
      expect(caps.encoding).toBe(Encoding.JSON);
      expect(caps.bindings.find((b) => b.slot === "sink")?.backendType).toBe("kafka");
      const r = reader(c);
      try {
        await db.query("BEGIN");
        await db.query(`INSERT INTO "${names.table}" SELECT g, 'n' || g, 'TOP-SECRET' FROM generate_series(1, 200) g`);
        await db.query(`UPDATE "${names.table}" SET name = 'changed' WHERE id <= 50`);
        await db.query("COMMIT");
        await db.query(`DELETE FROM "${names.table}" WHERE id > 190`);
        await r.waitCount(260, T, 60_000);
        expect(r.events.length).toBe(260);
        expect(new Set(r.events.map(changeId)).size).toBe(260);
        expect(r.events.filter((e) => e.operation === Operation.DELETE).length).toBe(10);
        expect(r.events.some((e) => JSON.stringify(e.newValues ?? {}).includes("TOP-SECRET"))).toBe(false);
        expect(r.events.find((e) => e.key.id === "7" && e.operation === Operation.UPDATE)?.newValues).toEqual({ id: 7, name: "changed" });
      } finally {
        await r.stop();
      }
      const s = await c.cdc.getStatus({});
      expect(s.slot).toBe(names.slot);
      expect(s.eventsTotal).toBe(260n);
      await waitFor(async () => (await c.cdc.getStatus({})).lagSeconds === 0, "nothing waits for Kafka");
    } finally {
      c.close();
    }
  });
});
