import { PrismError } from "../../sdk/grpc/errors";

/** One call made under load: when it started (ms since the load began), how long it took, how it ended. */
export interface CallRecord {
  /** The sequence number the call was made with (op(seq)). */
  seq: number;
  t: number;
  ms: number;
  /** gRPC code, 0 = OK. */
  code: number;
  message: string;
}

/**
 * Keeps `concurrency` calls in flight until stopped, each worker calling `op(seq)` in a loop, and records every
 * call. A worker that fails sleeps `pauseOnErrorMs` so a fast-failing backend does not spin the machine.
 */
export class Load {
  readonly records: CallRecord[] = [];
  private running = false;
  private workers: Promise<void>[] = [];
  private seq = 0;
  readonly t0 = performance.now();

  constructor(
    private readonly concurrency: number,
    private readonly op: (seq: number) => Promise<void>,
    private readonly pauseOnErrorMs = 5,
  ) {}

  start(): this {
    this.running = true;
    for (let i = 0; i < this.concurrency; i++) this.workers.push(this.worker());
    return this;
  }

  async stop(): Promise<CallRecord[]> {
    this.running = false;
    await Promise.all(this.workers);
    return this.records;
  }

  /** How many calls that started at or after `from` (ms since the load began) succeeded. */
  succeededSince(from: number): number {
    let n = 0;
    for (const r of this.records) if (r.t >= from && r.code === 0) n++;
    return n;
  }

  private async worker(): Promise<void> {
    while (this.running) {
      const seq = ++this.seq;
      const start = performance.now();
      try {
        await this.op(seq);
        this.records.push({ seq, t: start - this.t0, ms: performance.now() - start, code: 0, message: "" });
      } catch (err) {
        const e = PrismError.from(err);
        this.records.push({ seq, t: start - this.t0, ms: performance.now() - start, code: e.code, message: e.message });
        await Bun.sleep(this.pauseOnErrorMs);
      }
    }
  }
}

/** Calls that started within [from, to) ms of the load's start. */
export function within(records: CallRecord[], from: number, to: number): CallRecord[] {
  return records.filter((r) => r.t >= from && r.t < to);
}

export function maxMs(records: CallRecord[]): number {
  return records.reduce((m, r) => Math.max(m, r.ms), 0);
}

export function countByCode(records: CallRecord[]): Record<number, number> {
  const out: Record<number, number> = {};
  for (const r of records) out[r.code] = (out[r.code] ?? 0) + 1;
  return out;
}
