import { type Logger, PrismError, Code, type StreamDriver } from "@prism/sdk";
import type { SessionMetrics } from "./metrics";
import { decodeRecord, encodeRecord, type SessionRecord } from "./record";
import type { SessionStore } from "./store";

export interface ReplicationOptions {
  /** The stream every region appends to and reads (within the namespace). */
  stream: string;
  /** Partitions of that stream (Kafka's `partitions`; 1 for NATS and memstore): each is read from its own position. */
  partitions: number;
  region: string;
  logger: Logger;
  metrics?: SessionMetrics;
  /** How often the read positions are saved on the shards (they are also saved on stop). */
  checkpointIntervalMs: number;
  /** Pause before reading again after the stream failed. */
  retryDelayMs: number;
  /** Changes kept while the stream cannot take them; beyond, the oldest are dropped (counted, health degraded). */
  maxBacklog: number;
}

const CHECKPOINT = (stream: string, region: string, partition: number) =>
  `meta/replication/${encodeURIComponent(stream)}/${encodeURIComponent(region)}/${partition}`;

/**
 * Ships this region's changes to the stream and applies the other regions' changes from it. A change is appended
 * (keyed by session id, so one session's changes keep their order within a partition) before the caller's write
 * returns; one that could not be appended is kept and appended again in order. The read position of each partition
 * lives on the region's shards, so a region stopped for a while reads on from where it was.
 */
export class Replicator {
  private readonly abort = new AbortController();
  private reading: Promise<void>[] = [];
  private nextOffset: number[];
  private savedOffset: number[];
  private checkpointTimer?: ReturnType<typeof setInterval>;
  private backlog: SessionRecord[] = [];
  private flushing?: Promise<void>;
  /** Changes dropped because the backlog was full: other regions miss them until the session's next change. */
  dropped = 0;

  constructor(
    private readonly store: SessionStore,
    private readonly stream: StreamDriver,
    private readonly opts: ReplicationOptions,
  ) {
    this.nextOffset = new Array(opts.partitions).fill(0);
    this.savedOffset = new Array(opts.partitions).fill(-1);
  }

  /** Appends one local change (after earlier ones that are still waiting). */
  async ship(rec: SessionRecord): Promise<void> {
    if (this.backlog.length === 0) {
      try {
        await this.append(rec);
        return;
      } catch (err) {
        this.opts.logger.warn("replication append failed; the change is kept and appended again", { session: rec.id, err });
      }
    }
    this.backlog.push(rec);
    if (this.backlog.length > this.opts.maxBacklog) {
      this.backlog.shift();
      this.dropped++;
      this.opts.metrics?.dropped.inc();
    }
    this.flushing ??= this.flush().finally(() => {
      this.flushing = undefined;
    });
  }

  /** Changes not yet appended. */
  get pending(): number {
    return this.backlog.length;
  }

  async start(): Promise<void> {
    for (let p = 0; p < this.opts.partitions; p++) {
      this.nextOffset[p] = await this.loadCheckpoint(p);
      this.savedOffset[p] = this.nextOffset[p]!;
    }
    this.reading = this.nextOffset.map((_, p) => this.readLoop(p));
    this.checkpointTimer = setInterval(() => void this.checkpoint().catch(() => undefined), this.opts.checkpointIntervalMs);
  }

  async stop(): Promise<void> {
    this.abort.abort();
    clearInterval(this.checkpointTimer);
    // A following read may sit in a backend fetch that does not watch the signal (NATS: up to its 5 s expiry); the
    // driver's close ends it. The loops apply nothing after the abort, so the positions saved here stay exact.
    await Promise.race([Promise.allSettled(this.reading), new Promise((r) => setTimeout(r, 500))]);
    await this.checkpoint().catch((err) => this.opts.logger.warn("replication position not saved on stop", { err }));
  }

  private async append(rec: SessionRecord): Promise<void> {
    const at = await this.stream.append(this.opts.stream, encodeRecord(rec), { region: this.opts.region }, rec.id);
    if (at.partition >= this.opts.partitions) {
      // Other regions would never read it: say so loudly rather than lose changes quietly.
      throw new PrismError(
        Code.FAILED_PRECONDITION,
        `replication stream ${this.opts.stream} has a partition ${at.partition}, more than replication_partitions ${this.opts.partitions}: set it to the stream's partition count`,
      );
    }
  }

  private async flush(): Promise<void> {
    while (this.backlog.length > 0 && !this.abort.signal.aborted) {
      const next = this.backlog[0]!;
      try {
        await this.append(next);
        // Dropped meanwhile (the backlog overflowed while it was in flight): already gone.
        if (this.backlog[0] === next) this.backlog.shift();
      } catch {
        await sleep(this.opts.retryDelayMs, this.abort.signal);
      }
    }
  }

  private async readLoop(partition: number): Promise<void> {
    const { signal } = this.abort;
    while (!signal.aborted) {
      try {
        const records = this.stream.read({
          stream: this.opts.stream,
          partition,
          fromOffset: this.nextOffset[partition]!,
          fromTimestamp: 0,
          maxRecords: 0,
          follow: true,
          signal,
        });
        for await (const r of records) {
          if (signal.aborted) return;
          if (r.metadata.region !== this.opts.region) {
            const result = await this.store.apply(decodeRecord(r.payload));
            this.opts.metrics?.applied.inc({ result });
            if (result === "conflict") this.opts.metrics?.conflicts.inc();
            this.opts.metrics?.lag.observe(Math.max(0, Date.now() - r.timestamp) / 1000);
          }
          this.nextOffset[partition] = r.offset + 1;
        }
      } catch (err) {
        if (signal.aborted) return;
        this.opts.logger.warn("replication read failed; reading again", { partition, offset: this.nextOffset[partition], err });
      }
      await sleep(this.opts.retryDelayMs, signal);
    }
  }

  /** The saved position of a partition: the highest any shard holds (a shard that is down or new holds none). */
  private async loadCheckpoint(partition: number): Promise<number> {
    const key = CHECKPOINT(this.opts.stream, this.opts.region, partition);
    const saved = await Promise.allSettled(this.store.shardList().map((s) => s.driver.get(key)));
    let best = 0;
    for (const r of saved) if (r.status === "fulfilled" && r.value) best = Math.max(best, Number(new TextDecoder().decode(r.value)) || 0);
    return best;
  }

  private async checkpoint(): Promise<void> {
    for (let p = 0; p < this.opts.partitions; p++) {
      const offset = this.nextOffset[p]!;
      if (offset === this.savedOffset[p]) continue;
      const value = new TextEncoder().encode(String(offset));
      const key = CHECKPOINT(this.opts.stream, this.opts.region, p);
      await Promise.allSettled(this.store.shardList().map((s) => s.driver.set(key, value, 0)));
      this.savedOffset[p] = offset;
    }
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}
