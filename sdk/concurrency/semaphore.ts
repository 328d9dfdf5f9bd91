import { abortReason } from "./abort";

/** Gives back a permit; calling it more than once has no effect. */
export type Release = () => void;

interface Waiter {
  grant: (release: Release) => void;
}

/**
 * Counts permits for async code, granting them to waiters in FIFO order (a released permit is handed straight to
 * the next waiter, so late arrivals cannot barge in); the building block of Bulkhead and pipeline stages.
 */
export class Semaphore {
  private free: number;
  private readonly waiters: Waiter[] = [];

  constructor(readonly permits: number) {
    if (!(permits >= 1)) throw new RangeError(`Semaphore needs at least 1 permit, got ${permits}`);
    this.free = permits;
  }

  /** Permits not currently held. */
  get available(): number {
    return this.free;
  }

  /** Callers waiting for a permit. */
  get waiting(): number {
    return this.waiters.length;
  }

  /** Takes a permit if one is free right now, without waiting. */
  tryAcquire(): Release | undefined {
    if (this.free === 0) return undefined;
    this.free--;
    return this.releaser();
  }

  /** Waits for a permit; rejects with the abort reason (and leaves the queue) if `signal` aborts first. */
  acquire(signal?: AbortSignal): Promise<Release> {
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    const now = this.tryAcquire();
    if (now) return Promise.resolve(now);
    return new Promise<Release>((resolve, reject) => {
      const waiter: Waiter = {
        grant: (release) => {
          signal?.removeEventListener("abort", onAbort);
          resolve(release);
        },
      };
      const onAbort = () => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(abortReason(signal as AbortSignal));
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.waiters.push(waiter);
    });
  }

  private releaser(): Release {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiters.shift();
      if (next) next.grant(this.releaser());
      else this.free++;
    };
  }
}
