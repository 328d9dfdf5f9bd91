/** A poller's pause that a local event can end early (see Wakers). */
export interface Poller {
  /** Resolves after `ms`, when `signal` aborts, or when its key is woken — whichever comes first. */
  sleep(ms: number, signal: AbortSignal): Promise<void>;
  /** The poller is done: its key no longer wakes it. */
  close(): void;
}

/**
 * Pollers per key (a queue's topic, say) that an event in this process — a publish — wakes before their pause
 * ends, so a consumer polling a backend with backoff sees a local publish at once. A wake while a poller is not
 * sleeping is not kept: it polls next anyway.
 */
export class Wakers {
  private readonly byKey = new Map<string, Set<() => void>>();

  /** Ends the pause of every poller of `key` now sleeping. */
  wake(key: string): void {
    for (const w of this.byKey.get(key) ?? []) w();
  }

  poller(key: string): Poller {
    let wake: (() => void) | undefined;
    const waker = () => wake?.();
    let set = this.byKey.get(key);
    if (!set) this.byKey.set(key, (set = new Set()));
    set.add(waker);
    return {
      sleep: (ms, signal) =>
        new Promise<void>((resolve) => {
          if (signal.aborted) return resolve();
          const done = () => {
            clearTimeout(timer);
            signal.removeEventListener("abort", done);
            wake = undefined;
            resolve();
          };
          const timer = setTimeout(done, ms);
          signal.addEventListener("abort", done);
          wake = done;
        }),
      close: () => {
        set.delete(waker);
        if (set.size === 0 && this.byKey.get(key) === set) this.byKey.delete(key);
      },
    };
  }
}
