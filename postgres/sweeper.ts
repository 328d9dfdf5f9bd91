import { type Logger } from "@prism/sdk";

export interface SweeperOptions {
  intervalMs: number;
  /** Rows deleted per statement. */
  batch: number;
  /** Statements per run at most: a backlog is worked off over several runs, never in one long burst. */
  maxBatches: number;
  /** Deletes up to n expired rows; resolves how many it deleted. */
  sweepBatch: (n: number) => Promise<number>;
  /** True while the backend is known to be failing: the run is skipped. */
  paused: () => boolean;
  logger: Logger;
}

/**
 * Reclaims expired rows in the background, in bounded batches. Expired rows are already invisible to reads, so
 * the sweeper only frees space; a failed run is logged once per outage and retried at the next interval.
 */
export class ExpirySweeper {
  swept = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private failing = false;

  constructor(private readonly opts: SweeperOptions) {}

  start(): void {
    if (this.timer || this.stopped) return;
    this.schedule();
  }

  /** One run: batches until one comes back short or maxBatches ran. Resolves the rows deleted. */
  async runOnce(): Promise<number> {
    let total = 0;
    for (let i = 0; i < this.opts.maxBatches && !this.stopped; i++) {
      const n = await this.opts.sweepBatch(this.opts.batch);
      total += n;
      if (n < this.opts.batch) break;
    }
    this.swept += total;
    return total;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  private schedule(): void {
    this.timer = setTimeout(() => {
      if (this.stopped) return;
      this.running = this.tick().finally(() => {
        this.running = undefined;
        if (!this.stopped) this.schedule();
      });
    }, this.opts.intervalMs);
    this.timer.unref?.();
  }

  private async tick(): Promise<void> {
    if (this.opts.paused()) return;
    try {
      const n = await this.runOnce();
      if (this.failing) this.opts.logger.info("postgres expiry sweep works again");
      this.failing = false;
      if (n > 0) this.opts.logger.debug("postgres expiry sweep", { deleted: n });
    } catch (err) {
      if (!this.failing) this.opts.logger.warn("postgres expiry sweep failed; retrying", { error: (err as Error).message });
      this.failing = true;
    }
  }
}
