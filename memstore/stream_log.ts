import { invalidArgument, resourceExhausted, type StreamDriver, type StreamReadOptions, type StreamRecordData } from "@prism/sdk";
import { ownedBytes } from "./bytes";

/** One stream: live records are records[head..], the first of them at offset `low`. */
interface Log {
  records: (StreamRecordData | undefined)[];
  head: number;
  low: number;
  lastTimestamp: number;
}

const size = (log: Log) => log.records.length - log.head;
const nextOffset = (log: Log) => log.low + size(log);

/**
 * Append-only logs by stream name, with one partition (0). Offsets start at 0
 * and never repeat, trimmed or not; timestamps never go backwards, so reads from
 * a time can binary-search. Each stream keeps at most `maxRecords` (the oldest
 * go first, like a retention limit); at most `maxStreams` streams exist. A
 * stream trimmed empty is forgotten; so that its offsets and timestamps still
 * never repeat or go back, every stream created afterwards starts above the
 * highest offset and timestamp a forgotten one reached (two numbers for the
 * whole store, not one per name). Followers wait for appends without polling.
 */
export class StreamLog implements StreamDriver {
  private readonly logs = new Map<string, Log>();
  private readonly waiters = new Map<string, Set<() => void>>();
  private closed = false;
  private followerCount = 0;
  /** Where a new stream starts: past every offset and timestamp of a forgotten one. */
  private offsetFloor = 0;
  private timestampFloor = 0;

  constructor(
    readonly maxRecords: number,
    readonly maxStreams = 10_000,
  ) {}

  append(stream: string, payload: Uint8Array, metadata: Record<string, string>, key: string): { offset: number; partition: number; timestamp: number } {
    let log = this.logs.get(stream);
    if (log === undefined) {
      if (this.logs.size >= this.maxStreams) {
        throw resourceExhausted(
          `memstore is full: ${this.logs.size} of max_streams ${this.maxStreams} streams in use; trim streams empty or raise max_streams`,
        );
      }
      log = { records: [], head: 0, low: this.offsetFloor, lastTimestamp: this.timestampFloor };
      this.logs.set(stream, log);
    }
    const timestamp = Math.max(Date.now(), log.lastTimestamp);
    log.lastTimestamp = timestamp;
    const offset = nextOffset(log);
    log.records.push({ stream, partition: 0, offset, payload: ownedBytes(payload), metadata, key, timestamp });
    if (size(log) > this.maxRecords) this.dropBefore(log, nextOffset(log) - this.maxRecords);
    this.wake(stream);
    return { offset, partition: 0, timestamp };
  }

  async *read(opts: StreamReadOptions): AsyncIterable<StreamRecordData> {
    const { stream, maxRecords, follow, signal } = opts;
    checkPartition(opts.partition);
    const first = this.logs.get(stream);
    let next = opts.fromTimestamp > 0 ? (first ? offsetAtTime(first, opts.fromTimestamp) : 0) : opts.fromOffset;
    let sent = 0;
    if (follow) this.followerCount++;
    try {
      while (!signal.aborted && !this.closed) {
        const log = this.logs.get(stream);
        // Offsets, not indexes, survive trims and compaction between yields.
        while (log !== undefined) {
          if (next < log.low) next = log.low;
          if (next >= nextOffset(log)) break;
          yield log.records[log.head + next - log.low]!;
          next++;
          if (maxRecords > 0 && ++sent >= maxRecords) return;
          if (signal.aborted || this.closed) return;
        }
        if (!follow) return;
        await this.nextAppend(stream, signal);
      }
    } finally {
      if (follow) this.followerCount--;
    }
  }

  /** The lowest readable offset after the trim; for a stream that does not exist, the offset its first record would get. */
  trim(stream: string, partition: number, beforeOffset: number): number {
    checkPartition(partition);
    const log = this.logs.get(stream);
    if (log === undefined) return this.offsetFloor;
    this.dropBefore(log, Math.min(beforeOffset, nextOffset(log)));
    if (size(log) === 0) this.forget(stream, log);
    return log.low;
  }

  /** Streams held. */
  get size(): number {
    return this.logs.size;
  }

  /** Counters for health details. */
  stats() {
    let records = 0;
    for (const log of this.logs.values()) records += size(log);
    return { streams: this.logs.size, records, followers: this.followerCount };
  }

  /** Ends every read, following ones included. */
  close(): void {
    this.closed = true;
    for (const stream of [...this.waiters.keys()]) this.wake(stream);
    this.logs.clear();
  }

  /**
   * Drops an empty log. Safe with readers: they keep offsets, not the log, and
   * look the stream up again after each wait; the next log of this name starts
   * at or above `log.low`, so a follower's next offset is still right.
   */
  private forget(stream: string, log: Log): void {
    this.logs.delete(stream);
    this.offsetFloor = Math.max(this.offsetFloor, log.low);
    this.timestampFloor = Math.max(this.timestampFloor, log.lastTimestamp);
  }

  private dropBefore(log: Log, before: number): void {
    while (log.low < before && log.head < log.records.length) {
      log.records[log.head++] = undefined;
      log.low++;
    }
    // Compact once the dead prefix is the larger part, keeping appends amortised O(1).
    if (log.head > 1024 && log.head * 2 > log.records.length) {
      log.records = log.records.slice(log.head);
      log.head = 0;
    }
  }

  private nextAppend(stream: string, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      let set = this.waiters.get(stream);
      if (set === undefined) {
        set = new Set();
        this.waiters.set(stream, set);
      }
      const waiting = set;
      const done = () => {
        waiting.delete(done);
        if (waiting.size === 0 && this.waiters.get(stream) === waiting) this.waiters.delete(stream);
        signal.removeEventListener("abort", done);
        resolve();
      };
      waiting.add(done);
      signal.addEventListener("abort", done, { once: true });
    });
  }

  private wake(stream: string): void {
    const set = this.waiters.get(stream);
    if (set === undefined) return;
    this.waiters.delete(stream);
    for (const w of [...set]) w();
  }
}

function checkPartition(partition: number): void {
  if (partition !== 0) throw invalidArgument(`partition ${partition} does not exist: memstore streams have one partition, 0`);
}

/** The offset of the first record at or after `ts` (the next offset when none is). */
function offsetAtTime(log: Log, ts: number): number {
  let lo = log.head;
  let hi = log.records.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (log.records[mid]!.timestamp < ts) lo = mid + 1;
    else hi = mid;
  }
  return log.low + (lo - log.head);
}
