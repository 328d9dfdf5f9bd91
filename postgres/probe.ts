import type { SQL } from "bun";
import { type Logger } from "@prism/sdk";

export interface ProbeOptions {
  /** How often `select 1` is asked (one at a time). */
  intervalMs: number;
  /** No answer within this long: the server is down (frozen, partitioned) until the answer comes. */
  timeoutMs: number;
  /** An answer outstanding this long: the probe's connection is replaced (a partition may never answer). */
  recycleAfterMs: number;
}

type Verdict = () => void;

/**
 * Whether PostgreSQL answers right now, from `select 1` on a connection of its own (never queued behind the pool's
 * busy connections), asked every `intervalMs`, one at a time. No answer within `timeoutMs` (or a failed one) marks
 * the server down at once — the driver then refuses new calls without sending them and gives up on the calls in
 * flight — and the late answer marks it up again the moment it arrives. A frozen server (SIGSTOP) keeps its
 * connections open and answers nothing, so only a round trip shows it.
 */
export class LivenessProbe {
  private sql: SQL;
  private outstanding: { sentAt: number; verdict: Promise<void> } | undefined;
  private lastVerdictAt = -Infinity;
  private state: "unknown" | "up" | "down" = "unknown";
  private timer: ReturnType<typeof setInterval> | undefined;
  private readonly downListeners = new Set<(reason: string) => void>();
  /** Why the server is down ("" while up). */
  reason = "";

  constructor(
    private readonly connect: () => SQL,
    private readonly opts: ProbeOptions,
    private readonly logger: Logger,
    private readonly target: string,
    /** Called when the server answers again after being down (e.g. to let the breaker probe at once). */
    private readonly onUp: () => void = () => undefined,
  ) {
    this.sql = connect();
  }

  get down(): boolean {
    return this.state === "down";
  }

  start(): void {
    if (this.timer) return;
    // Health reports (readiness asks every 250 ms) probe too: the timer skips a turn after a recent verdict.
    this.timer = setInterval(() => void this.check(true), this.opts.intervalMs);
    this.timer.unref?.();
    void this.check();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.sql.close({ timeout: 0 }).catch(() => undefined);
  }

  /** Calls fn once if the server is found down while it is registered; returns the unregister function. */
  onceDown(fn: (reason: string) => void): () => void {
    this.downListeners.add(fn);
    return () => this.downListeners.delete(fn);
  }

  /**
   * Resolves once the server's state is known from a round trip: the verdict of the probe outstanding (its answer,
   * or its timeout), or of a new one — unless `recent` and the last verdict is younger than the interval.
   */
  check(recent = false): Promise<void> {
    const o = this.outstanding;
    if (o) {
      if (performance.now() - o.sentAt > this.opts.recycleAfterMs) this.recycle();
      return o.verdict;
    }
    if (recent && this.state !== "unknown" && performance.now() - this.lastVerdictAt < this.opts.intervalMs) return Promise.resolve();
    return this.send();
  }

  private send(): Promise<void> {
    const sentAt = performance.now();
    let settle!: Verdict;
    const verdict = new Promise<void>((r) => (settle = r));
    const probe = { sentAt, verdict };
    this.outstanding = probe;
    const decided = () => {
      this.lastVerdictAt = performance.now();
      settle();
    };
    // The verdict waits one turn of the event loop past the timeout, so an answer already read from the socket
    // (a busy event loop, not a silent server) wins over the timer.
    const timer = setTimeout(
      () =>
        setImmediate(() => {
          if (this.outstanding !== probe) return;
          this.markDown(`no answer to select 1 within ${this.opts.timeoutMs} ms`);
          decided();
        }),
      this.opts.timeoutMs,
    );
    Promise.resolve(this.sql`select 1`)
      .then(
        () => this.markUp(),
        (err: Error) => this.markDown(`select 1 failed: ${err.message}`),
      )
      .finally(() => {
        clearTimeout(timer);
        if (this.outstanding === probe) this.outstanding = undefined;
        decided();
      });
    return verdict;
  }

  /** Replaces the probe's connection (its answer never came); the old one is closed, failing the outstanding probe. */
  private recycle(): void {
    const old = this.sql;
    this.sql = this.connect();
    this.outstanding = undefined;
    void old.close({ timeout: 0 }).catch(() => undefined);
  }

  private markDown(reason: string): void {
    this.reason = reason;
    if (this.state === "down") return;
    const was = this.state;
    this.state = "down";
    if (was === "up") this.logger.warn("postgres does not answer its health check; refusing calls until it does", { target: this.target, reason });
    for (const fn of [...this.downListeners]) fn(reason);
    this.downListeners.clear();
  }

  private markUp(): void {
    this.reason = "";
    if (this.state === "up") return;
    const was = this.state;
    this.state = "up";
    if (was === "down") {
      this.logger.info("postgres answers its health check again", { target: this.target });
      this.onUp();
    }
  }
}
