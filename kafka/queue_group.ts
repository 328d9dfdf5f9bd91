import { randomBytes } from "node:crypto";
import type { Kafka, KafkaMessage } from "kafkajs";
import type { AdminHandle } from "./admin";
import { toPrismError } from "./errors";
import type { Logger, PrismError, QueueDelivery } from "@prism/sdk";
import type { KafkaConfig } from "./config";
import { ConsumerFeed, type FeedItem, type FlowStats } from "./feed";
import { headersToMetadata } from "./headers";
import { PartitionLedger } from "./queue_ledger";

type State = "ready" | "inflight" | "delayed" | "gated";

/** A fetched message of the group that is not finished (acked or dead-lettered) yet. */
interface Entry {
  readonly partition: number;
  readonly offset: number;
  readonly message: KafkaMessage;
  readonly key: string;
  /** Deliveries so far (the last delivery's number). */
  attempts: number;
  state: State;
  lastError: string;
  timer?: ReturnType<typeof setTimeout>;
}

/** A first-in first-out list that skips entries finished while they waited in it. */
class Fifo {
  private items: Entry[] = [];
  private head = 0;

  push(e: Entry): void {
    this.items.push(e);
  }

  shift(ok: (e: Entry) => boolean): Entry | undefined {
    while (this.head < this.items.length) {
      const e = this.items[this.head++]!;
      if (this.head > 1024 && this.head * 2 > this.items.length) {
        this.items = this.items.slice(this.head);
        this.head = 0;
      }
      if (ok(e)) return e;
    }
    return undefined;
  }

  clear(): void {
    this.items = [];
    this.head = 0;
  }
}

/** Bytes a queue group's fetch asks for (about 7,000 records of 100 bytes: throughput does not need more). */
const FETCH_MAX_BYTES = 1024 * 1024;

/** Most attempts one commit's metadata carries (the broker's offset.metadata.max.bytes is 4096 by default). */
const MAX_ATTEMPTS_KEPT = 100;

/** Attempts as commit metadata: `{"<offset>": n, …}`, lowest offsets first, at most MAX_ATTEMPTS_KEPT. */
export function formatAttempts(sorted: readonly [number, number][]): string {
  return JSON.stringify(Object.fromEntries(sorted.slice(0, MAX_ATTEMPTS_KEPT).map(([o, n]) => [String(o), n])));
}

/** Attempts from commit metadata; empty for anything else (no metadata, another format). */
export function parseAttempts(metadata: string | null | undefined): Map<number, number> {
  const out = new Map<number, number>();
  if (!metadata) return out;
  try {
    const o = JSON.parse(metadata) as unknown;
    if (typeof o !== "object" || o === null || Array.isArray(o)) return out;
    for (const [k, v] of Object.entries(o))
      if (Number.isSafeInteger(Number(k)) && Number.isSafeInteger(v) && (v as number) > 0) out.set(Number(k), v as number);
  } catch {
    // Not ours.
  }
  return out;
}

/** Bytes an entry holds (payload and key; the rest is small and bounded by the entry count). */
function sizeOf(e: Entry): number {
  return (e.message.value?.byteLength ?? 0) + e.key.length;
}

/** Counts of one group in this process. */
export interface GroupCounts {
  inFlight: number;
  /** Fetched and waiting here: ready, nacked with a delay, or behind an earlier message of their key. */
  waiting: number;
  /** Per owned partition: the offset the group commits (lowest unfinished), and finished messages above it. */
  partitions: Map<number, { commitPoint: number | undefined; finishedAbove: number }>;
}

/**
 * One Kafka consumer group of a queue topic, as this pattern process takes part in it: a single kafkajs group
 * member (ConsumerFeed) whose messages this process hands to its local Consume streams one at a time, so
 * consumers joining and leaving do not rebalance the group. Kafka keeps no per-message state, so this does:
 * each fetched message is ready, in flight (until its ack deadline), delayed (nacked) or gated (behind an
 * earlier unfinished message of its key: per-key order, as keys map to one partition each); offsets are committed
 * only below the lowest unfinished message of each partition (PartitionLedger), so whatever a crash or a
 * rebalance interrupts is fetched again. Memory: bounded by queue.max_held / max_held_bytes unfinished messages and
 * queue.fetch_ahead waiting ones; beyond, fetching waits and the feed pauses the partitions. A rebalance drops the state (the new owners fetch from the committed offsets)
 * and makes the tokens handed out before it unknown.
 */
export class QueueGroup {
  private readonly feed: ConsumerFeed;
  private readonly id = randomBytes(4).toString("hex");
  private epoch: string;
  private readonly entries = new Map<string, Entry>();
  private readonly redo = new Fifo();
  private readonly fresh = new Fifo();
  /** Unfinished entries per non-empty key, in offset order; the first one is the key's only deliverable entry. */
  private readonly keyed = new Map<string, Entry[]>();
  private ledgers = new Map<number, PartitionLedger>();
  private readonly committed = new Map<number, number>();
  private waiters: (() => void)[] = [];
  private roomWaiter: (() => void) | undefined;
  private commitTimer: ReturnType<typeof setInterval> | undefined;
  private committing: Promise<void> = Promise.resolve();
  /** Partitions whose attempts changed since their last commit. */
  private readonly dirty = new Set<number>();
  /** Attempts of unfinished messages as the group last committed them (per partition and offset), read on each join. */
  private restored = new Map<number, Map<number, number>>();
  private restoring: Promise<void> = Promise.resolve();
  private failure: PrismError | undefined;
  /** Entries in flight, and bytes (payload and key) of every entry held. */
  private inFlight = 0;
  private heldBytes = 0;
  private closed = false;
  private readonly started: Promise<void>;
  /** Local Consume streams using this group. */
  users = 0;

  constructor(
    kafka: Kafka,
    private readonly admin: AdminHandle,
    private readonly cfg: KafkaConfig,
    private readonly topic: string,
    private readonly groupId: string,
    stats: FlowStats,
    private readonly logger: Logger,
  ) {
    const signal = new AbortController().signal;
    // The feed buffers little: what waits for a consumer is held here (bounded by queue.fetch_ahead). When both are
    // full the feed waits rather than pausing: a pause drops the rest of kafkajs's fetched batch, and each resume
    // costs a refetch (and, with every partition paused, an idle max_wait), which capped consume+ack at ~1.5k/s.
    const feedCfg = { ...cfg, consumer: { ...cfg.consumer, buffer: Math.min(cfg.consumer.buffer, cfg.queue.fetch_ahead) } };
    // Waiting holds the fetched batch: a fetch of at most FETCH_MAX_BYTES keeps what a stalled group holds beyond
    // queue.max_held_bytes small.
    this.feed = new ConsumerFeed(
      kafka,
      feedCfg,
      { groupId, topic, fromBeginning: true, signal, stats, whenFull: "wait", fetchMaxBytes: FETCH_MAX_BYTES },
      logger,
    );
    this.epoch = `${this.id}g0`;
    // Registered after the feed's own listener, which bumps the generation.
    this.feed.consumer.on(this.feed.consumer.events.GROUP_JOIN, () => this.reset());
    this.started = this.feed.start();
    this.started.then(
      () => {
        this.commitTimer = setInterval(() => void this.commit(), cfg.consumer.commit_interval);
        void this.pump();
      },
      (err) => this.fail(toPrismError(err, "queue consume")),
    );
  }

  /** Resolves once the member runs; rejects when it could not start. */
  ready(): Promise<void> {
    return this.started;
  }

  /** False once the group failed or closed: the driver makes a new one. */
  get usable(): boolean {
    return !this.closed && !this.failure;
  }

  /** Waits for a deliverable message and delivers it (deadline from now); undefined when aborted or closed. */
  async take(signal: AbortSignal, ackDeadlineMs: number): Promise<QueueDelivery | undefined> {
    for (;;) {
      if (this.failure) throw this.failure;
      if (signal.aborted || this.closed) return undefined;
      const e = this.redo.shift(this.isReady) ?? this.fresh.shift(this.isReady);
      if (e) return this.deliver(e, ackDeadlineMs);
      await new Promise<void>((resolve) => {
        const done = () => {
          signal.removeEventListener("abort", done);
          const i = this.waiters.indexOf(done);
          if (i >= 0) this.waiters.splice(i, 1);
          resolve();
        };
        signal.addEventListener("abort", done);
        this.waiters.push(done);
      });
    }
  }

  /** Acks by token; false for tokens of another generation, unknown offsets, or a delivery made again since. */
  ack(token: string): boolean {
    const e = this.entryOf(token);
    if (!e || e.state === "gated") return false;
    this.finish(e);
    return true;
  }

  /** Makes an in-flight delivery deliverable again after `afterMs`, keeping `error` as its last error. */
  nack(token: string, afterMs: number, error: string): boolean {
    const e = this.entryOf(token);
    if (e?.state !== "inflight") return false;
    clearTimeout(e.timer);
    if (error) e.lastError = error;
    if (afterMs <= 0) this.makeReady(e);
    else {
      this.setState(e, "delayed");
      e.timer = setTimeout(() => this.makeReady(e), afterMs);
    }
    return true;
  }

  counts(): GroupCounts {
    const inFlight = this.inFlight;
    const partitions = new Map<number, { commitPoint: number | undefined; finishedAbove: number }>();
    for (const [p, l] of this.ledgers) partitions.set(p, { commitPoint: l.commitPoint(), finishedAbove: l.finishedAbove });
    return { inFlight, waiting: this.entries.size - inFlight, partitions };
  }

  /** Commits what is finished and leaves the group (bounded by request_timeout). */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.commitTimer);
    this.wakeAll();
    this.roomWaiter?.();
    await this.started.catch(() => undefined);
    await this.commit();
    for (const e of this.entries.values()) clearTimeout(e.timer);
    await this.feed.stop(this.cfg.request_timeout);
  }

  /** Moves an entry to a state, keeping the in-flight count. */
  private setState(e: Entry, state: State): void {
    if (e.state === "inflight") this.inFlight--;
    if (state === "inflight") this.inFlight++;
    e.state = state;
  }

  private readonly isReady = (e: Entry) => e.state === "ready" && this.entries.get(`${e.partition}/${e.offset}`) === e;

  private deliver(e: Entry, ackDeadlineMs: number): QueueDelivery {
    e.attempts++;
    this.dirty.add(e.partition);
    this.setState(e, "inflight");
    // One fewer waiting here: the pump may fetch again.
    this.roomWaiter?.();
    const attempt = e.attempts;
    e.timer = setTimeout(() => {
      if (e.state === "inflight" && e.attempts === attempt) this.makeReady(e);
    }, ackDeadlineMs);
    const m = e.message;
    return {
      messageId: `${e.partition}/${e.offset}`,
      key: e.key,
      payload: m.value ?? new Uint8Array(0),
      headers: headersToMetadata(m.headers),
      publishedAt: Number(m.timestamp),
      attempt,
      token: `${this.epoch}.${e.partition}.${e.offset}.${attempt}`,
      lastError: e.lastError,
    };
  }

  /** The entry a token of this generation names, while its delivery is the latest one. */
  private entryOf(token: string): Entry | undefined {
    const t = token.split(".");
    if (t.length !== 4 || t[0] !== this.epoch) return undefined;
    const e = this.entries.get(`${t[1]}/${t[2]}`);
    return e && String(e.attempts) === t[3] ? e : undefined;
  }

  private makeReady(e: Entry): void {
    if (this.entries.get(`${e.partition}/${e.offset}`) !== e) return;
    clearTimeout(e.timer);
    this.setState(e, "ready");
    this.redo.push(e);
    this.wakeOne();
  }

  private finish(e: Entry): void {
    clearTimeout(e.timer);
    this.setState(e, "ready");
    this.heldBytes -= sizeOf(e);
    this.entries.delete(`${e.partition}/${e.offset}`);
    this.ledgers.get(e.partition)?.finish(e.offset);
    if (e.key) {
      const list = this.keyed.get(e.key);
      if (list?.[0] === e) {
        list.shift();
        if (list.length === 0) this.keyed.delete(e.key);
        else this.makeReady(list[0]!);
      }
    }
    this.roomWaiter?.();
  }

  /** Takes fetched messages into the group's state while it holds fewer than queue.max_held. */
  private async pump(): Promise<void> {
    try {
      for await (const item of this.feed.queue) {
        if (this.closed) return;
        await this.restoring;
        if (this.feed.isCurrent(item)) this.add(item);
        this.feed.taken();
        while (this.full() && !this.closed) await new Promise<void>((r) => (this.roomWaiter = r));
      }
    } catch (err) {
      this.fail(toPrismError(err, "queue consume"));
    }
  }

  /**
   * True while the group holds enough: queue.max_held unfinished messages or queue.max_held_bytes of them, or
   * queue.fetch_ahead waiting for a consumer (a consumer that stops reading makes the group stop fetching).
   */
  private full(): boolean {
    const q = this.cfg.queue;
    return this.entries.size >= q.max_held || this.heldBytes >= q.max_held_bytes || this.entries.size - this.inFlight >= q.fetch_ahead;
  }

  private add(item: FeedItem): void {
    const { partition, offset, message } = item;
    let ledger = this.ledgers.get(partition);
    if (!ledger) this.ledgers.set(partition, (ledger = new PartitionLedger()));
    // A message fetched again (kafkajs re-fetches after a seek) is already here.
    if (!ledger.accepts(offset)) return;
    ledger.fetched(offset);
    const key = message.key ? message.key.toString("utf8") : "";
    const attempts = this.restored.get(partition)?.get(offset) ?? 0;
    const e: Entry = { partition, offset, message, key, attempts, state: "ready", lastError: "" };
    this.entries.set(`${partition}/${offset}`, e);
    this.heldBytes += sizeOf(e);
    if (key) {
      const list = this.keyed.get(key);
      if (list) {
        list.push(e);
        e.state = "gated";
        return;
      }
      this.keyed.set(key, [e]);
    }
    this.fresh.push(e);
    this.wakeOne();
  }

  /** A new generation: the partitions are fetched again from the committed offsets. */
  private reset(): void {
    for (const e of this.entries.values()) clearTimeout(e.timer);
    this.entries.clear();
    this.inFlight = 0;
    this.heldBytes = 0;
    this.keyed.clear();
    this.redo.clear();
    this.fresh.clear();
    this.ledgers = new Map();
    this.committed.clear();
    this.epoch = `${this.id}g${this.feed.generation}`;
    this.dirty.clear();
    this.restoring = this.restoreAttempts();
    this.roomWaiter?.();
  }

  /** Reads the attempts the group's commits carry (offset metadata), so counts survive rebalances and restarts. */
  private async restoreAttempts(): Promise<void> {
    const restored = new Map<number, Map<number, number>>();
    try {
      const offsets = await this.admin.useSettling("queue attempts", this.cfg.request_timeout, (admin) =>
        admin.fetchOffsets({ groupId: this.groupId, topics: [this.topic] }),
      );
      for (const p of offsets[0]?.partitions ?? []) {
        const m = parseAttempts(p.metadata);
        if (m.size > 0) restored.set(p.partition, m);
      }
    } catch (err) {
      // Counts start again at 1 for what this join fetches: more deliveries before a dead letter, none lost.
      this.logger.debug("kafka queue attempts not read", { group: this.groupId, error: (err as Error).message });
    }
    this.restored = restored;
  }

  private fail(err: PrismError): void {
    if (this.closed) return;
    this.failure = err;
    this.logger.warn("kafka queue group failed", { group: this.groupId, error: err.message });
    this.wakeAll();
  }

  private wakeOne(): void {
    this.waiters.shift()?.();
  }

  private wakeAll(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /**
   * Commits each owned partition's commit point when it moved or its attempts changed; the commit's metadata
   * carries the attempts of the partition's first unfinished messages. A failure (a rebalance) only means redelivery.
   */
  private commit(): Promise<void> {
    const due: { topic: string; partition: number; offset: string; metadata: string }[] = [];
    const points: [number, number][] = [];
    for (const [p, l] of this.ledgers) {
      const point = l.commitPoint();
      if (point === undefined || !this.feed.assignment.has(p)) continue;
      if (this.committed.get(p) === point && !this.dirty.has(p)) continue;
      due.push({ topic: this.topic, partition: p, offset: String(point), metadata: this.attemptsOf(p) });
      points.push([p, point]);
    }
    if (due.length === 0) return this.committing;
    for (const [p] of points) this.dirty.delete(p);
    const ledgers = this.ledgers;
    this.committing = this.committing.then(async () => {
      try {
        await this.feed.consumer.commitOffsets(due);
        if (this.ledgers === ledgers) for (const [p, o] of points) this.committed.set(p, o);
      } catch (err) {
        if (this.ledgers === ledgers) for (const [p] of points) this.dirty.add(p);
        this.logger.debug("kafka queue commit failed; those messages may be delivered again", { group: this.groupId, error: (err as Error).message });
      }
    });
    return this.committing;
  }

  /** `{"<offset>": attempts, …}` of the partition's lowest delivered unfinished messages, within the metadata limit. */
  private attemptsOf(partition: number): string {
    const delivered: [number, number][] = [];
    for (const e of this.entries.values()) if (e.partition === partition && e.attempts > 0) delivered.push([e.offset, e.attempts]);
    delivered.sort((a, b) => a[0] - b[0]);
    return formatAttempts(delivered);
  }
}
