import { appendBatch, type KeyValueBasicDriver, type Logger, type StreamAppend, type StreamDriver } from "@prism/sdk";
import type { Pgoutput } from "pg-logical-replication";
import type pg from "pg";
import { type ChangeEvent, Operation } from "../proto/gen/prism/patterns/cdc/cdc_pattern_pb";
import { CdcMetrics } from "./metrics";
import { decodeEvent, type Encoding, encodeEvent, eventMetadata, type PlacedChange, toEvent } from "./encoding";
import { type ChangePosition, comparePositions, formatLsn, type Lsn, parseLsn, START } from "./lsn";
import { sinkKey, TableRule } from "./rows";
import type { CdcSettings } from "./settings";
import { type PostgresLogicalSource, primaryKey, type ReplicationStream } from "./source";

/** A position past every change of its transaction: reached when the transaction's commit is delivered. */
const WHOLE = Number.MAX_SAFE_INTEGER;

/** The checkpoint as the state slot keeps it. `phase: snapshot` = an initial snapshot was started, not finished. */
interface Checkpoint {
  lsn: string;
  position: number;
  phase: "snapshot" | "stream";
  /**
   * Sink partition -> an offset at or below which no change past the checkpoint was stored: a look at the sink's
   * tail starts after it. Not simply the last covered record's offset: batches in flight together interleave in
   * the sink, so a later change can be stored below an earlier one.
   */
  offsets?: Record<string, number>;
}

/** Where a record landed in the sink. */
interface SinkPlace {
  partition: number;
  offset: number;
}

/** One thing to deliver, in capture order: a change, or a mark that the slot may move to `endLsn` once all before it are delivered. */
type Entry =
  | { kind: "change"; change: PlacedChange; key: string; done: boolean; place?: SinkPlace; floor?: ReadonlyMap<number, number> }
  | { kind: "mark"; endLsn: Lsn; position?: ChangePosition; done: true };
type ChangeEntry = Extract<Entry, { kind: "change" }>;

export type CaptureState = "starting" | "snapshot" | "streaming" | "sink_unavailable" | "source_unavailable" | "wal_limit_exceeded" | "slot_lost" | "stopped";

export interface CaptureOptions {
  source: PostgresLogicalSource;
  sink: StreamDriver;
  state: KeyValueBasicDriver;
  settings: CdcSettings;
  /** Retained WAL beyond which the pattern reports wal_limit_exceeded (0 = no bound). */
  maxLagBytes: number;
  logger: Logger;
  metrics: CdcMetrics;
  /** Wait before a failed sink append or a lost replication connection is tried again. */
  retryDelayMs?: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Capture, deliver, checkpoint. Changes arrive from the slot in commit order and are appended to the sink in
 * that order (several appends in flight, never two of one row); the checkpoint (state slot) is the last change
 * such that it and every change before it were acknowledged by the sink, and the replication slot is told to
 * move only past transactions the persisted checkpoint covers. After a restart the slot replays from its
 * confirmed LSN, and changes at or before the checkpoint (commit LSN, then position) are dropped, so each
 * change reaches the sink once. A sink that fails is retried without end: capture falls behind, never drops.
 */
export class Capture {
  private readonly rules: Map<string, TableRule>;
  private readonly checkpointKey: string;
  private readonly encoding: Encoding;
  private readonly retryDelayMs: number;

  private stopping = false;
  private stream: ReplicationStream | undefined;
  private paused = false;
  /** Decoded messages not yet turned into deliveries (the replication connection's read side). */
  private readonly queue: (Pgoutput.Message | { tag: "keepalive"; walEnd: Lsn })[] = [];
  private wakeQueue: (() => void) | undefined;
  /** Deliveries started and not yet folded into `delivered` (in capture order). */
  private readonly fifo: Entry[] = [];
  /** Changes taken for the next batch append, not yet sent. */
  private batch: ChangeEntry[] = [];
  /** Changes per batch append: half the window, so one batch fills while another is in flight. */
  private readonly batchSize: number;
  private readonly rowsInFlight = new Map<string, Promise<void>>();
  private inFlight = 0;
  private slotFreed: (() => void) | undefined;

  private readonly fullIdentityKeys = new Map<number, string[]>();
  private txn: { lsn: Lsn; commitTimeMs: number; xid: number; position: number } | undefined;
  /** Everything up to here is in the sink. */
  private delivered: ChangePosition = START;
  /** Highest commit end (or keepalive) LSN whose changes are all in the sink. */
  private deliveredEnd: Lsn = 0n;
  /** Per sink partition, the offset of the last delivered change folded into `delivered`. */
  private readonly offsets = new Map<number, number>();
  /**
   * Per sink partition, the highest offset any acknowledged append got (seeded from the checkpoint). A batch
   * sent now stores its changes above it: the batch keeps a copy as its floor, where a look for it starts.
   */
  private readonly acked = new Map<number, number>();
  /**
   * Changes past the checkpoint that the sink holds already (an append acknowledged, or done without its
   * acknowledgement reaching the pattern, before a crash or an outage): found by reading the sink's tail.
   */
  private inSink = new Map<string, SinkPlace>();
  private reconciling: Promise<void> | undefined;
  private persisted: ChangePosition = START;
  private persistedAt = Date.now();
  private confirmed: Lsn = 0n;

  private flags = { snapshot: false, sink: "", source: "", walLimit: "", slotLost: "" };
  lagBytes = 0;
  eventsTotal = 0;
  private readonly rate: number[] = [];
  private done: Promise<void> | undefined;

  constructor(private readonly o: CaptureOptions) {
    this.rules = new Map(o.settings.tables.map((t) => [t.name, new TableRule(t)]));
    this.checkpointKey = o.settings.checkpoint_key || `cdc/${o.source.slot}`;
    this.encoding = o.settings.encoding;
    this.retryDelayMs = o.retryDelayMs ?? 200;
    this.batchSize = Math.max(1, Math.floor(o.settings.max_in_flight / 2));
    o.metrics.bind(this);
  }

  get state(): CaptureState {
    if (this.stopping) return "stopped";
    if (this.flags.slotLost) return "slot_lost";
    if (this.flags.walLimit) return "wal_limit_exceeded";
    if (this.flags.sink) return "sink_unavailable";
    if (this.flags.source) return "source_unavailable";
    if (this.flags.snapshot) return "snapshot";
    return this.stream ? "streaming" : "starting";
  }

  get error(): string {
    return this.flags.slotLost || this.flags.walLimit || this.flags.sink || this.flags.source;
  }

  get slot(): string {
    return this.o.source.slot;
  }

  get confirmedLsn(): Lsn {
    return this.confirmed;
  }

  get checkpointAgeSeconds(): number {
    return comparePositions(this.delivered, this.persisted) > 0 || this.pending() > 0 ? (Date.now() - this.persistedAt) / 1000 : 0;
  }

  /** Changes captured and not yet in the sink. */
  pending(): number {
    return this.inFlight + this.batch.length + this.queue.length;
  }

  /** Age of the oldest change captured and not yet acknowledged by the sink. */
  get lagSeconds(): number {
    const oldest = this.fifo.find((e) => e.kind === "change" && !e.done);
    if (oldest?.kind === "change") return Math.max(0, (Date.now() - oldest.change.commitTimeMs) / 1000);
    const first = this.queue.find((m) => m.tag === "begin") as Pgoutput.MessageBegin | undefined;
    return first ? Math.max(0, (Date.now() - Number(BigInt(first.commitTime.toString()) / 1000n)) / 1000) : 0;
  }

  get eventsPerSecond(): number {
    if (this.rate.length < 2) return 0;
    return (this.rate[this.rate.length - 1]! - this.rate[0]!) / (this.rate.length - 1);
  }

  /** Starts capture in the background; resolves once the first step (checkpoint, slot) is done or has failed once. */
  start(): void {
    this.done = this.run().catch((err) => this.o.logger.error("cdc capture stopped", { error: String(err) }));
  }

  private async run(): Promise<void> {
    const ticker = setInterval(() => {
      this.rate.push(this.eventsTotal);
      if (this.rate.length > 6) this.rate.shift();
    }, 1000);
    const checkpointer = this.checkpointLoop();
    const watcher = this.watchSlot();
    try {
      while (!this.stopping) {
        try {
          await this.prepare();
          break;
        } catch (err) {
          this.flags.source = `preparing the slot: ${errorText(err)}`;
          this.o.metrics.errors.inc({ kind: "source" });
          await sleep(this.retryDelayMs * 5);
        }
      }
      while (!this.stopping) {
        await this.streamOnce();
        if (!this.stopping) await sleep(this.retryDelayMs * 5);
      }
    } finally {
      clearInterval(ticker);
      await Promise.allSettled([checkpointer, watcher]);
    }
  }

  /** Loads the checkpoint, publishes the tables, and creates the slot (with the initial snapshot) when it does not exist. */
  private async prepare(): Promise<void> {
    const raw = await this.o.state.get(this.checkpointKey);
    const saved = raw ? (JSON.parse(new TextDecoder().decode(raw)) as Checkpoint) : undefined;
    if (saved?.phase === "stream") {
      this.delivered = this.persisted = { lsn: parseLsn(saved.lsn), position: saved.position };
      for (const [p, o] of Object.entries(saved.offsets ?? {})) {
        this.offsets.set(Number(p), o);
        this.acked.set(Number(p), o);
      }
      await this.reconcile();
    }
    await this.o.source.ensurePublication([...this.rules.keys()]);
    let slot = await this.o.source.slotInfo();
    if (slot?.walStatus === "lost") throw this.slotLost();
    if (slot && saved?.phase === "snapshot") {
      // A snapshot cut short: its exported snapshot died with the process, so it is taken again on a new slot.
      this.o.logger.warn("cdc: initial snapshot was interrupted; dropping the slot and taking it again", { slot: this.slot });
      await this.o.source.dropSlot();
      slot = undefined;
    }
    if (slot) {
      this.confirmed = slot.confirmedFlush;
      return;
    }
    if (saved?.phase === "stream")
      this.o.logger.warn("cdc: the slot is gone although a checkpoint exists; changes made while it was missing are not captured", { slot: this.slot });
    if (!this.o.settings.snapshot) {
      this.confirmed = await this.o.source.createSlot();
      return;
    }
    this.flags.snapshot = true;
    await this.saveCheckpoint({ lsn: "0/0", position: 0, phase: "snapshot" });
    this.delivered = this.persisted = START;
    const at = await this.o.source.createSlot((reader, lsn) => this.readSnapshot(reader, lsn));
    await this.drain();
    this.delivered = { lsn: at, position: WHOLE };
    await this.saveCheckpoint({ lsn: formatLsn(at), position: WHOLE, phase: "stream", offsets: Object.fromEntries(this.tailFrom()) });
    this.persisted = this.delivered;
    this.confirmed = at;
    this.flags.snapshot = false;
  }

  /** Every row of every captured table, as inserts at the slot's consistent point, position = row number. */
  private async readSnapshot(reader: pg.Client, at: Lsn): Promise<void> {
    const now = Date.now();
    let position = 0;
    for (const [table, rule] of this.rules) {
      const keyColumns = await primaryKey(reader, table);
      const cursor = `cdc_snapshot_${position}`;
      await reader.query(
        `DECLARE ${cursor} NO SCROLL CURSOR FOR SELECT * FROM ${table
          .split(".")
          .map((p) => `"${p}"`)
          .join(".")}`,
      );
      for (;;) {
        const batch = await reader.query(`FETCH 1000 FROM ${cursor}`);
        if (batch.rows.length === 0) break;
        for (const row of batch.rows) {
          position++;
          const change = rule.change(Operation.INSERT, keyColumns, row, null);
          if (change) await this.deliver({ ...change, lsn: at, position, commitTimeMs: now, xid: 0 });
          if (this.stopping) throw new Error("stopped during the snapshot");
        }
      }
      await reader.query(`CLOSE ${cursor}`);
    }
  }

  /** One replication connection, from connect to loss; what was captured and not delivered is replayed by the next. */
  private async streamOnce(): Promise<void> {
    let stream: ReplicationStream;
    try {
      stream = await this.o.source.stream({
        message: (m) => this.enqueue(m),
        keepalive: (walEnd) => this.enqueue({ tag: "keepalive", walEnd }),
      });
    } catch (err) {
      this.flags.source = `replication: ${errorText(err)}`;
      this.o.metrics.errors.inc({ kind: "source" });
      return;
    }
    this.flags.source = "";
    this.stream = stream;
    this.paused = false;
    const worker = this.work();
    try {
      await stream.ended;
      if (!this.stopping) this.flags.source = "replication connection ended";
    } catch (err) {
      if (!this.stopping) {
        this.flags.source = `replication: ${errorText(err)}`;
        this.o.metrics.errors.inc({ kind: "source" });
      }
    }
    this.stream = undefined;
    await stream.stop();
    // The queue's messages come again from the slot; deliveries already started finish first, so a change
    // replayed by the next connection is recognised as delivered.
    this.queue.length = 0;
    this.txn = undefined;
    this.wakeQueue?.();
    await worker;
    await this.drain();
  }

  private enqueue(m: Pgoutput.Message | { tag: "keepalive"; walEnd: Lsn }): void {
    this.queue.push(m);
    if (!this.paused && this.queue.length >= this.o.settings.max_buffered) {
      this.paused = true;
      this.stream?.pause();
    }
    this.wakeQueue?.();
  }

  /** Turns queued messages into deliveries, in order, until the connection ends. */
  private async work(): Promise<void> {
    const stream = this.stream;
    while (!this.stopping && this.stream === stream && stream) {
      const m = this.queue.shift();
      if (!m) {
        await new Promise<void>((r) => (this.wakeQueue = r));
        this.wakeQueue = undefined;
        continue;
      }
      if (this.paused && this.queue.length < this.o.settings.max_buffered / 2) {
        this.paused = false;
        stream.resume();
      }
      await this.handle(m);
      // Nothing more received for now: what the batch holds goes out rather than waiting for more.
      if (this.queue.length === 0) await this.flush();
    }
  }

  private async handle(m: Pgoutput.Message | { tag: "keepalive"; walEnd: Lsn }): Promise<void> {
    switch (m.tag) {
      case "begin":
        this.txn = { lsn: parseLsn(m.commitLsn ?? "0/0"), commitTimeMs: Number(m.commitTime.valueOf() / 1000n), xid: m.xid, position: 0 };
        return;
      case "insert":
      case "update":
      case "delete": {
        const t = this.txn;
        if (!t) return;
        t.position++;
        const rule = this.rules.get(`${m.relation.schema}.${m.relation.name}`);
        if (!rule) return;
        const keyColumns = await this.keyColumns(m.relation);
        const change =
          m.tag === "insert"
            ? rule.change(Operation.INSERT, keyColumns, m.new, null)
            : m.tag === "update"
              ? rule.change(Operation.UPDATE, keyColumns, m.new, m.old ?? m.key)
              : rule.change(Operation.DELETE, keyColumns, null, m.old ?? m.key);
        if (change) await this.deliver({ ...change, lsn: t.lsn, position: t.position, commitTimeMs: t.commitTimeMs, xid: t.xid });
        return;
      }
      case "truncate": {
        const t = this.txn;
        if (!t) return;
        for (const r of m.relations) {
          t.position++;
          const rule = this.rules.get(`${r.schema}.${r.name}`);
          if (rule) await this.deliver({ ...rule.truncate(), lsn: t.lsn, position: t.position, commitTimeMs: t.commitTimeMs, xid: t.xid });
        }
        return;
      }
      case "commit": {
        const t = this.txn;
        this.txn = undefined;
        if (!t) return;
        this.fifo.push({ kind: "mark", endLsn: parseLsn(m.commitEndLsn ?? "0/0"), position: { lsn: t.lsn, position: WHOLE }, done: true });
        this.advance();
        return;
      }
      case "keepalive":
        // Outside a transaction every change before walEnd has been received: once they are delivered the slot
        // may move there, so a quiet set of tables on a busy server does not make the slot retain WAL.
        if (!this.txn) {
          this.fifo.push({ kind: "mark", endLsn: m.walEnd, done: true });
          this.advance();
        }
        return;
      default:
        return;
    }
  }

  /**
   * The columns that identify a row: the replica identity's. Under REPLICA IDENTITY FULL pgoutput flags every
   * column, so the primary key is read from the catalog instead (once per relation).
   */
  private async keyColumns(r: Pgoutput.MessageRelation): Promise<readonly string[]> {
    if (r.replicaIdentity !== "full") return r.keyColumns;
    let key = this.fullIdentityKeys.get(r.relationOid);
    if (!key) {
      key = await this.o.source.primaryKey(`${r.schema}.${r.name}`);
      this.fullIdentityKeys.set(r.relationOid, key);
    }
    return key.length > 0 ? key : r.keyColumns;
  }

  /**
   * Queues one change for the next batch append (a change the checkpoint or the sink's tail shows delivered is
   * folded in at once). A full batch is sent before the next change is taken.
   */
  private async deliver(change: PlacedChange): Promise<void> {
    if (comparePositions(change, this.delivered) <= 0) {
      this.o.metrics.duplicates.inc();
      return;
    }
    const entry: ChangeEntry = { kind: "change", change, key: sinkKey(change), done: false };
    const held = this.inSink.get(changeKey(change));
    if (held) {
      this.inSink.delete(changeKey(change));
      this.o.metrics.duplicates.inc();
      this.fifo.push({ ...entry, done: true, place: held });
      this.advance();
      return;
    }
    this.fifo.push(entry);
    this.batch.push(entry);
    if (this.batch.length >= this.batchSize) await this.flush();
  }

  /**
   * Sends the queued changes as one batch append once it may go: a free place in the window (counted in
   * changes) and no earlier batch in flight holding one of its rows, so a row's changes reach the sink in order.
   */
  private async flush(): Promise<void> {
    // The batch is taken only once it may go, so pending() counts it meanwhile (nothing adds to it while this waits).
    const size = this.batch.length;
    if (size === 0) return;
    const keys = new Set(this.batch.map((e) => e.key));
    for (;;) {
      const earlier = new Set<Promise<void>>();
      for (const k of keys) {
        const p = this.rowsInFlight.get(k);
        if (p) earlier.add(p);
      }
      if (earlier.size > 0) {
        await Promise.all(earlier);
        continue;
      }
      if (this.inFlight > 0 && this.inFlight + size > this.o.settings.max_in_flight) {
        await new Promise<void>((r) => (this.slotFreed = r));
        continue;
      }
      break;
    }
    const entries = this.batch.splice(0);
    const floor = new Map(this.acked);
    for (const e of entries) e.floor = floor;
    this.inFlight += entries.length;
    const sent = this.append(entries);
    for (const k of keys) this.rowsInFlight.set(k, sent);
  }

  /**
   * Appends a batch, retried without end while the sink fails. Before a retry the sink's tail is read: a
   * failed batch may have been stored in part (or whole, its acknowledgement lost), and what it holds is
   * taken as delivered instead of being appended again.
   */
  private async append(entries: ChangeEntry[]): Promise<void> {
    let todo = entries;
    const records = new Map<ChangeEntry, StreamAppend>();
    for (const e of entries) {
      const c = e.change;
      records.set(e, {
        payload: encodeEvent(toEvent(c), this.encoding),
        metadata: eventMetadata(c, this.encoding),
        key: e.key,
        write: this.o.settings.sink_idempotency ? { idempotencyKey: changeKey(c), windowMs: 120_000 } : undefined,
      });
    }
    for (let delay = this.retryDelayMs, retry = false; ; delay = Math.min(delay * 2, 5_000), retry = true) {
      try {
        if (retry) {
          await this.reconcile();
          todo = todo.filter((e) => {
            const held = this.inSink.get(changeKey(e.change));
            if (!held) return true;
            this.inSink.delete(changeKey(e.change));
            this.o.metrics.duplicates.inc();
            e.place = held;
            return false;
          });
        }
        const places = await appendBatch(
          this.o.sink,
          this.o.settings.stream,
          todo.map((e) => records.get(e)!),
        );
        todo.forEach((e, i) => {
          const place = places[i]!;
          e.place = place;
          if (place.offset > (this.acked.get(place.partition) ?? -1)) this.acked.set(place.partition, place.offset);
        });
        break;
      } catch (err) {
        if (!this.flags.sink) this.o.logger.warn("cdc: sink append failed; retrying (capture falls behind, nothing is dropped)", { error: errorText(err) });
        this.flags.sink = `sink: ${errorText(err)}`;
        this.o.metrics.errors.inc({ kind: "sink" });
        if (this.stopping) return this.release(entries);
        await sleep(delay);
      }
    }
    this.flags.sink = "";
    const now = Date.now();
    for (const e of entries) {
      const c = e.change;
      e.done = true;
      this.eventsTotal++;
      this.o.metrics.events.inc({ table: c.table, operation: Operation[c.operation].toLowerCase() });
      if (c.xid !== 0) this.o.metrics.commitToSink.observe(Math.max(0, now - c.commitTimeMs) / 1000);
    }
    this.release(entries);
    this.advance();
  }

  private release(entries: ChangeEntry[]): void {
    this.inFlight -= entries.length;
    const sent = this.rowsInFlight.get(entries[0]!.key);
    for (const e of entries) if (this.rowsInFlight.get(e.key) === sent) this.rowsInFlight.delete(e.key);
    const freed = this.slotFreed;
    this.slotFreed = undefined;
    freed?.();
  }

  /** Folds the delivered head of the FIFO into the delivered position. */
  private advance(): void {
    while (this.fifo.length > 0 && this.fifo[0]!.done) {
      const e = this.fifo.shift()!;
      if (e.kind === "change") {
        this.delivered = { lsn: e.change.lsn, position: e.change.position };
        if (e.place && e.place.offset > (this.offsets.get(e.place.partition) ?? -1)) this.offsets.set(e.place.partition, e.place.offset);
      } else {
        if (e.position && comparePositions(e.position, this.delivered) > 0) this.delivered = e.position;
        if (e.endLsn > this.deliveredEnd) this.deliveredEnd = e.endLsn;
      }
    }
  }

  /** Sends what the batch holds, then waits until every delivery started has been acknowledged (or given up at stop). */
  private async drain(): Promise<void> {
    await this.flush();
    while (this.inFlight > 0) await Promise.allSettled([...this.rowsInFlight.values()]);
    await Promise.resolve();
  }

  /** Persists the delivered position, then lets the slot move past what it covers. */
  private async checkpointLoop(): Promise<void> {
    while (!this.stopping) {
      await sleep(this.o.settings.checkpoint_interval);
      await this.checkpointOnce();
    }
  }

  private async checkpointOnce(): Promise<void> {
    if (this.flags.snapshot) return;
    const position = this.delivered;
    const end = this.deliveredEnd;
    if (comparePositions(position, this.persisted) > 0) {
      try {
        await this.saveCheckpoint({ lsn: formatLsn(position.lsn), position: position.position, phase: "stream", offsets: Object.fromEntries(this.tailFrom()) });
      } catch (err) {
        this.o.metrics.errors.inc({ kind: "state" });
        this.o.logger.warn("cdc: checkpoint not saved; the slot waits", { error: errorText(err) });
        return;
      }
      this.persisted = position;
      this.persistedAt = Date.now();
    } else if (this.pending() === 0) this.persistedAt = Date.now();
    if (end > this.confirmed && this.stream) {
      this.stream.acknowledge(end);
      this.confirmed = end;
    }
  }

  /**
   * Per partition, the offset after which every change past `delivered` that the sink may hold lies: the last
   * folded offset, lowered to the floor of the oldest change sent and not yet folded (a partition that floor does
   * not know yet is read from its start, -1).
   */
  private tailFrom(): Map<number, number> {
    const from = new Map(this.offsets);
    const oldest = this.fifo.find((e): e is ChangeEntry => e.kind === "change" && e.floor !== undefined);
    if (!oldest?.floor) return from;
    for (const p of new Set([...from.keys(), ...this.acked.keys()])) from.set(p, Math.min(from.get(p) ?? -1, oldest.floor.get(p) ?? -1));
    return from;
  }

  private async saveCheckpoint(c: Checkpoint): Promise<void> {
    await this.o.state.set(this.checkpointKey, new TextEncoder().encode(JSON.stringify(c)), 0);
  }

  /**
   * Reads the sink from tailFrom() to its end and notes which changes past `delivered` it holds, so
   * they are not appended again (one look at a time; callers share it).
   */
  private reconcile(): Promise<void> {
    this.reconciling ??= (async () => {
      try {
        const found = new Map<string, SinkPlace>();
        const tail = this.tailFrom();
        const partitions = tail.size > 0 ? [...tail.keys()] : [0];
        for (const partition of partitions) {
          const from = (tail.get(partition) ?? -1) + 1;
          const signal = AbortSignal.timeout(60_000);
          for await (const rec of this.o.sink.read({
            stream: this.o.settings.stream,
            partition,
            fromOffset: from,
            fromTimestamp: 0,
            maxRecords: 0,
            follow: false,
            signal,
          })) {
            const lsn = rec.metadata["cdc-lsn"];
            const position = Number(rec.metadata["cdc-position"]);
            if (!lsn || !(position >= 0)) continue;
            if (comparePositions({ lsn: parseLsn(lsn), position }, this.delivered) <= 0) continue;
            found.set(`${lsn}/${position}`, { partition: rec.partition, offset: rec.offset });
          }
        }
        for (const [k, v] of found) this.inSink.set(k, v);
      } finally {
        this.reconciling = undefined;
      }
    })();
    return this.reconciling;
  }

  /** Polls the slot: lag in bytes, the retained-WAL bound, a slot PostgreSQL invalidated. */
  private async watchSlot(): Promise<void> {
    while (!this.stopping) {
      try {
        const info = await this.o.source.slotInfo();
        if (info) {
          this.lagBytes = info.lagBytes;
          if (info.walStatus === "lost") this.slotLost();
          const limit = this.o.maxLagBytes;
          const over = limit > 0 && info.lagBytes > limit;
          if (over && !this.flags.walLimit) {
            this.o.logger.error("cdc: the slot retains more WAL than max_lag_bytes allows", { slot: this.slot, lagBytes: info.lagBytes, limit });
            this.o.metrics.errors.inc({ kind: "wal_limit" });
          }
          this.flags.walLimit = over
            ? `slot ${this.slot} retains ${info.lagBytes} bytes of WAL, over max_lag_bytes ${limit}: the sink is not keeping up (or is down); PostgreSQL invalidates the slot at max_slot_wal_keep_size`
            : "";
        }
      } catch {
        // The replication connection reports PostgreSQL being down; the poll just waits.
      }
      await sleep(1000);
    }
  }

  private slotLost(): Error {
    this.flags.slotLost = `slot ${this.slot} was invalidated by PostgreSQL (its WAL is gone, max_slot_wal_keep_size): changes were lost; drop the slot and the checkpoint and start again with snapshot: true`;
    return new Error(this.flags.slotLost);
  }

  /** The events in the sink from `from` on, then new ones, decoded. */
  async *subscribe(from: Lsn, signal: AbortSignal): AsyncIterable<ChangeEvent> {
    for await (const r of this.o.sink.read({
      stream: this.o.settings.stream,
      partition: 0,
      fromOffset: 0,
      fromTimestamp: 0,
      maxRecords: 0,
      follow: true,
      signal,
    })) {
      const event = decodeEvent(r.payload, this.encoding);
      if (from > 0n && parseLsn(event.lsn) < from) continue;
      yield event;
    }
  }

  async stop(): Promise<void> {
    if (this.stopping) return;
    // A last checkpoint of what the sink has, then the connection goes.
    await this.checkpointOnce().catch(() => undefined);
    this.stopping = true;
    this.wakeQueue?.();
    this.slotFreed?.();
    await this.stream?.stop();
    await this.done;
  }
}

/** A change's identity: commit LSN and position (also its idempotency key in the sink). */
function changeKey(c: ChangePosition): string {
  return `${formatLsn(c.lsn)}/${c.position}`;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
