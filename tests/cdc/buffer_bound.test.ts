/**
 * max_buffered bounds what capture holds: a 30k-row transaction against a sink that does not answer. Capture
 * runs in process over the real replication connection (a table and slot of the run's own on the shared
 * PostgreSQL) so its pending count can be sampled as fast as it changes.
 */
import { afterAll, beforeAll, expect, setDefaultTimeout, test } from "bun:test";
import type pg from "pg";
import { Registry } from "prom-client";
import { createLogger, type StreamRecordData } from "@prism/sdk";
import { Capture } from "../../cdc/capture";
import { CdcMetrics } from "../../cdc/metrics";
import { parseSettings } from "../../cdc/settings";
import { PostgresLogicalSource, READ_SLICE_BYTES } from "../../cdc/source";
import { postgresUrl } from "../helpers/services";
import { waitFor } from "../helpers/wait";
import { admin, dropRun, runNames } from "./harness";

setDefaultTimeout(90_000);

const ROWS = 30_000;
const MAX_BUFFERED = 1_000;
const MAX_IN_FLIGHT = 64;
/** The smallest row change pgoutput can send (XLogData header, then an insert of one column) is over 30 bytes. */
const SLICE_CHANGES = Math.ceil(READ_SLICE_BYTES / 30);
/** Queue up to the bound, what the slice that crossed it still holds, the window, one batch waiting to go. */
const BOUND = MAX_BUFFERED + SLICE_CHANGES + MAX_IN_FLIGHT + MAX_IN_FLIGHT / 2;

const names = runNames("bound");
let db: pg.Client;

beforeAll(async () => {
  db = await admin();
  await db.query(`CREATE TABLE "${names.table}" (id int PRIMARY KEY, v text)`);
});

afterAll(async () => {
  await dropRun(db, names, [names.table]);
  await db.end();
});

/** A sink whose appends wait until it is opened. */
class GatedSink {
  records: StreamRecordData[] = [];
  private open: () => void = () => {};
  private readonly opened = new Promise<void>((r) => (this.open = r));
  async append(stream: string, payload: Uint8Array, metadata: Record<string, string>, key: string) {
    await this.opened;
    const offset = this.records.length;
    this.records.push({ stream, partition: 0, offset, payload, metadata, key, timestamp: Date.now() });
    return { offset, partition: 0, timestamp: Date.now() };
  }
  async *read() {}
  async trim() {
    return 0;
  }
  release() {
    this.open();
  }
}

test(`a ${ROWS}-row transaction with max_buffered ${MAX_BUFFERED}: pending peaks under ${BOUND}, then every row arrives once, in order`, async () => {
  const logger = createLogger({ level: "error", write: () => {} });
  const env = { logger, namespace: "", configFile: "test", registry: new Registry() };
  const settings = parseSettings(
    { tables: [{ name: names.table }], max_buffered: MAX_BUFFERED, max_in_flight: MAX_IN_FLIGHT, checkpoint_interval: "100ms" },
    env,
  );
  const source = new PostgresLogicalSource({
    url: postgresUrl(),
    slot: names.slot,
    publication: names.publication,
    status_interval: 1000,
    connect_timeout: 10_000,
  });
  const sink = new GatedSink();
  const values = new Map<string, Uint8Array>();
  const state = {
    async set(k: string, v: Uint8Array) {
      values.set(k, v);
    },
    async get(k: string) {
      return values.get(k);
    },
    async delete() {
      return false;
    },
    async exists() {
      return false;
    },
  };
  const capture = new Capture({ source, sink, state, settings, maxLagBytes: 0, logger, metrics: new CdcMetrics(new Registry()), retryDelayMs: 50 });
  let peak = 0;
  const sampler = setInterval(() => (peak = Math.max(peak, capture.pending())), 1);
  capture.start();
  try {
    await waitFor(() => capture.state === "streaming", "capture streams");
    const inserted = db.query(`INSERT INTO "${names.table}" SELECT g, 'row ' || g FROM generate_series(1, ${ROWS}) g`);
    // The process looks away while PostgreSQL commits and streams the transaction: the socket's next read takes
    // a large part of it at once (Bun reads up to 512 KiB), more than max_buffered changes.
    Bun.sleepSync(2_000);
    await inserted;
    // Capture fills up to its bound and stops reading: pending stays put while the sink does not answer.
    await waitFor(() => capture.pending() >= MAX_BUFFERED, "capture holds max_buffered changes");
    let last = -1;
    await waitFor(
      () => {
        const now = capture.pending();
        const still = now === last;
        last = now;
        return still;
      },
      "pending stops growing",
      { intervalMs: 500 },
    );
    expect(peak).toBeGreaterThanOrEqual(MAX_BUFFERED);
    expect(peak).toBeLessThanOrEqual(BOUND);
    sink.release();
    await waitFor(() => sink.records.length >= ROWS, `${ROWS} changes in the sink`, { timeoutMs: 60_000, intervalMs: 100 });
    expect(peak).toBeLessThanOrEqual(BOUND);
    const positions = sink.records.map((r) => Number(r.metadata["cdc-position"]));
    expect(positions).toEqual(Array.from({ length: ROWS }, (_, i) => i + 1));
  } finally {
    clearInterval(sampler);
    await capture.stop();
  }
});
