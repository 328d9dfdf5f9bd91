import { expect, test } from "bun:test";
import { createLogger, type StreamReadOptions, type StreamRecordData } from "@prism/sdk";
import type { Pgoutput } from "pg-logical-replication";
import { Registry } from "prom-client";
import { Capture } from "./capture";
import { formatLsn, type Lsn, parseLsn } from "./lsn";
import { CdcMetrics } from "./metrics";
import { parseSettings } from "./settings";
import type { PostgresLogicalSource, ReplicationStream, StreamHandlers } from "./source";

// Capture in process over fakes: what the slot is told, and when, against what the sink and the state hold.

const logger = createLogger({ level: "error", write: () => {} });
const env = { logger, namespace: "", configFile: "test", registry: new Registry() };
const relation = {
  tag: "relation",
  relationOid: 1,
  schema: "public",
  name: "t",
  replicaIdentity: "default",
  columns: [],
  keyColumns: ["id"],
} as unknown as Pgoutput.MessageRelation;

class FakeSource {
  readonly slot = "s";
  handlers: StreamHandlers | undefined;
  acknowledged: Lsn[] = [];
  async ensurePublication() {}
  async slotInfo() {
    return { confirmedFlush: 0n, walStatus: "reserved", lagBytes: 0 };
  }
  async createSlot(): Promise<Lsn> {
    return 1n;
  }
  async primaryKey() {
    return ["id"];
  }
  async stream(handlers: StreamHandlers): Promise<ReplicationStream> {
    this.handlers = handlers;
    let end = () => {};
    const ended = new Promise<void>((r) => (end = r));
    return {
      ended,
      acknowledge: (lsn) => this.acknowledged.push(lsn),
      pause() {},
      resume() {},
      stop: async () => end(),
    };
  }
  /** One transaction of inserts, committed at `lsn`, ending at lsn + 8. */
  commit(lsn: string, ids: number[]) {
    const h = this.handlers!;
    h.message({ tag: "begin", commitLsn: lsn, commitTime: BigInt(Date.now() * 1000), xid: 7 } as Pgoutput.Message);
    for (const id of ids) h.message({ tag: "insert", relation, new: { id } } as Pgoutput.Message);
    h.message({ tag: "commit", flags: 0, commitLsn: lsn, commitEndLsn: formatLsn(parseLsn(lsn) + 8n), commitTime: 0n } as unknown as Pgoutput.Message);
  }
}

class FakeSink {
  records: StreamRecordData[] = [];
  down = false;
  async append(stream: string, payload: Uint8Array, metadata: Record<string, string>, key: string) {
    if (this.down) throw new Error("sink down");
    const offset = this.records.length;
    this.records.push({ stream, partition: 0, offset, payload, metadata, key, timestamp: Date.now() });
    return { offset, partition: 0, timestamp: Date.now() };
  }
  async *read(o: StreamReadOptions) {
    for (const r of this.records.slice(o.fromOffset)) yield r;
  }
  async trim() {
    return 0;
  }
}

class FakeState {
  values = new Map<string, Uint8Array>();
  down = false;
  async set(key: string, value: Uint8Array) {
    if (this.down) throw new Error("state down");
    this.values.set(key, value);
  }
  async get(key: string) {
    return this.values.get(key);
  }
  async delete() {
    return false;
  }
  async exists() {
    return false;
  }
}

async function until(check: () => boolean | Promise<boolean>, what: string) {
  const deadline = Date.now() + 5_000;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await Bun.sleep(10);
  }
}

let metrics: CdcMetrics;

function capture(source: FakeSource, sink: FakeSink, state: FakeState, maxInFlight = 512) {
  metrics = new CdcMetrics(new Registry());
  const settings = parseSettings({ tables: [{ name: "t" }], checkpoint_interval: "10ms", max_in_flight: maxInFlight }, env);
  return new Capture({
    source: source as unknown as PostgresLogicalSource,
    sink,
    state,
    settings,
    maxLagBytes: 0,
    logger,
    metrics,
    retryDelayMs: 5,
  });
}

test("the slot moves only past transactions whose changes are in the sink and whose checkpoint is saved", async () => {
  const source = new FakeSource();
  const sink = new FakeSink();
  const state = new FakeState();
  const c = capture(source, sink, state);
  c.start();
  await until(() => source.handlers !== undefined, "streaming");
  state.down = true;
  source.commit("0/100", [1, 2]);
  await until(() => sink.records.length === 2, "both changes are in the sink");
  const stateErrors = async () => (await metrics.errors.get()).values.find((v) => v.labels.kind === "state")?.value ?? 0;
  await until(async () => (await stateErrors()) >= 3, "three checkpoint rounds failed");
  expect(source.acknowledged).toEqual([]);
  state.down = false;
  await until(() => source.acknowledged.length > 0, "the slot is acknowledged");
  expect(source.acknowledged.at(-1)).toBe(parseLsn("0/108"));
  expect(JSON.parse(new TextDecoder().decode(state.values.get("cdc/s")!))).toMatchObject({ lsn: "0/100", phase: "stream" });

  sink.down = true;
  source.commit("0/200", [3]);
  await until(() => c.state === "sink_unavailable", "the sink is reported down");
  expect(source.acknowledged.at(-1)).toBe(parseLsn("0/108"));
  expect(c.pending()).toBe(1);
  sink.down = false;
  await until(() => source.acknowledged.at(-1) === parseLsn("0/208"), "the slot moves past the second transaction");
  expect(sink.records.map((r) => r.metadata["cdc-lsn"])).toEqual(["0/100", "0/100", "0/200"]);
  await c.stop();
});

test("after a restart, changes the checkpoint or the sink's tail shows delivered are not appended again", async () => {
  const sink = new FakeSink();
  const state = new FakeState();
  const first = new FakeSource();
  const a = capture(first, sink, state);
  a.start();
  await until(() => first.handlers !== undefined, "streaming");
  first.commit("0/100", [1, 2]);
  await until(() => first.acknowledged.length > 0, "the checkpoint is saved");
  state.down = true; // the next transaction reaches the sink, its checkpoint never does
  first.commit("0/200", [3, 4]);
  await until(() => sink.records.length === 4, "the second transaction is in the sink");
  await a.stop();

  // The slot replays both transactions (the fake slot keeps nothing): the first is at the checkpoint, the second
  // in the sink's tail.
  state.down = false;
  expect(await restartAndReplay(sink, state)).toEqual(["0/100/1", "0/100/2", "0/200/1", "0/200/2", "0/300/1"]);
});

/**
 * A new capture over what the sink and the state hold: the slot replays the transactions at 0/100 and 0/200, then
 * a new one at 0/300 comes. Answers the changes in the sink (commit LSN / position) once the slot moved past it.
 */
async function restartAndReplay(sink: FakeSink, state: FakeState, maxInFlight?: number): Promise<string[]> {
  const source = new FakeSource();
  const c = capture(source, sink, state, maxInFlight);
  c.start();
  try {
    await until(() => source.handlers !== undefined, "streaming again");
    source.commit("0/100", [1, 2]);
    source.commit("0/200", [3, 4]);
    source.commit("0/300", [5]);
    await until(() => source.acknowledged.at(-1) === parseLsn("0/308"), "the slot moves past the new transaction");
    return sink.records.map((r) => `${r.metadata["cdc-lsn"]}/${r.metadata["cdc-position"]}`);
  } finally {
    await c.stop();
  }
}

test("a batch the sink stored in part before failing: only what is missing is appended again", async () => {
  const source = new FakeSource();
  const sink = new FakeSink();
  const state = new FakeState();
  // The 5th append of the batch fails once, after the 4 before it were stored (the others of its wave too).
  let appends = 0;
  const append = sink.append.bind(sink);
  sink.append = async (...args: Parameters<FakeSink["append"]>) => {
    if (++appends === 5) throw new Error("sink hiccup");
    return append(...args);
  };
  const c = capture(source, sink, state);
  c.start();
  await until(() => source.handlers !== undefined, "streaming");
  source.commit("0/100", [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  await until(() => source.acknowledged.at(-1) === parseLsn("0/108"), "the slot moves past the transaction");
  const positions = sink.records.map((r) => Number(r.metadata["cdc-position"]));
  expect(positions.sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  expect(appends).toBe(11);
  await c.stop();
});

test("batches in flight together interleave in the sink: after a crash the look at the tail still finds a later batch stored below an earlier one", async () => {
  const sink = new FakeSink();
  const state = new FakeState();
  // Appends are held until the test lets them through: the second transaction's changes are stored first, the
  // first's after them; only the first's acknowledgements come back before the crash.
  const held: { args: Parameters<FakeSink["append"]>; resolve: (p: Awaited<ReturnType<FakeSink["append"]>>) => void; reject: (e: Error) => void }[] = [];
  const append = sink.append.bind(sink);
  const gated = (...args: Parameters<FakeSink["append"]>) =>
    new Promise<Awaited<ReturnType<FakeSink["append"]>>>((resolve, reject) => held.push({ args, resolve, reject }));
  sink.append = gated;
  const first = new FakeSource();
  const a = capture(first, sink, state, 4); // batches of 2, both in flight together
  a.start();
  await until(() => first.handlers !== undefined, "streaming");
  first.commit("0/100", [1, 2]);
  first.commit("0/200", [3, 4]);
  await until(() => held.length === 4, "both batches are in flight");
  const [a1, a2, b1, b2] = held;
  await append(...b1!.args); // stored, never acknowledged
  await append(...b2!.args);
  a1!.resolve(await append(...a1!.args));
  a2!.resolve(await append(...a2!.args));
  await until(() => first.acknowledged.at(-1) === parseLsn("0/108"), "the first transaction is checkpointed");
  // The crash: the restarted capture sees the state as it is now; whatever the first one does later is lost.
  const atCrash = new FakeState();
  atCrash.values = new Map(state.values);
  sink.append = append;
  expect(await restartAndReplay(sink, atCrash, 4)).toEqual(["0/200/1", "0/200/2", "0/100/1", "0/100/2", "0/300/1"]);
  for (const h of [b1, b2]) h!.reject(new Error("connection lost"));
  await a.stop();
});
