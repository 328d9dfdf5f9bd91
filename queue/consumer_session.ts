/**
 * The in-flight window of one open Consume stream: the driver tokens it was handed and their ack deadlines. It
 * bounds the stream to `maxInFlight` unacked deliveries (room()), frees a place on ack, nack or an expired
 * deadline (the driver redelivers those to the group), and tells who waits for room when one frees up.
 */
export class ConsumerSession {
  /** Driver token → Unix ms of its ack deadline, in delivery order (so also deadline order). */
  private readonly outstanding = new Map<string, number>();
  private waiter: (() => void) | undefined;

  constructor(
    readonly id: string,
    readonly topic: string,
    readonly group: string,
    readonly maxInFlight: number,
    readonly ackDeadlineMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  track(token: string): void {
    this.outstanding.set(token, this.now() + this.ackDeadlineMs);
  }

  /** Frees the token's place; false when the session did not hold it. */
  release(token: string): boolean {
    if (!this.outstanding.delete(token)) return false;
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
    return true;
  }

  /** Places free now (deliveries past their deadline are dropped first). */
  room(): number {
    this.expire();
    return this.maxInFlight - this.outstanding.size;
  }

  get inFlight(): number {
    this.expire();
    return this.outstanding.size;
  }

  /** Resolves once room() > 0, or signal aborts. */
  async waitForRoom(signal: AbortSignal): Promise<void> {
    while (!signal.aborted && this.room() <= 0) {
      const first = this.outstanding.values().next().value!;
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(timer);
          signal.removeEventListener("abort", done);
          if (this.waiter === done) this.waiter = undefined;
          resolve();
        };
        const timer = setTimeout(done, Math.max(1, first - this.now() + 1));
        signal.addEventListener("abort", done);
        this.waiter = done;
      });
    }
  }

  /** Tokens still in flight (not acked, nacked nor expired), emptying the session. */
  drain(): string[] {
    this.expire();
    const tokens = [...this.outstanding.keys()];
    this.outstanding.clear();
    return tokens;
  }

  private expire(): void {
    const now = this.now();
    for (const [token, deadline] of this.outstanding) {
      if (deadline > now) break;
      this.outstanding.delete(token);
    }
  }
}
