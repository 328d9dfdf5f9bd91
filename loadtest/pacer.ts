/**
 * Wakes the main thread at scheduled times, on time: a worker sleeps precisely
 * (Atomics.wait, a futex; timers fire on a ~1 ms grid here) until `leadMs`
 * before each due time and posts a tick; the main thread, woken early, waits
 * out the rest of the lead by spinning on the clock (at most `leadMs`), then
 * runs onTick. A wake-up through the worker takes ~0.1 ms (futex timer slack,
 * then message delivery); without the lead every send would start that late.
 * Ticks are coalesced: while the main thread has not handled one, no more are
 * posted, so a busy client is never flooded (the scheduler catches up from the clock);
 * the next is posted as soon as it takes the pending one, not at the following due time.
 */
const WORKER_SOURCE = `
self.onmessage = (e) => {
  const { sab, start, interval, lead } = e.data;
  const flags = new Int32Array(sab); // [0] tick pending, [1] stop
  const now = () => performance.timeOrigin + performance.now();
  for (let k = 1; Atomics.load(flags, 1) === 0; k++) {
    const wake = start + k * interval - lead;
    for (let wait = wake - now(); wait > 0 && Atomics.load(flags, 1) === 0; wait = wake - now()) Atomics.wait(flags, 1, 0, wait);
    // One tick pending at most. While the main thread still holds the last one, wait for it to take it (it
    // notifies) and post then: skipping this tick would leave its send to the next one, a whole interval late.
    while (Atomics.load(flags, 1) === 0) {
      if (Atomics.compareExchange(flags, 0, 0, 1) === 0) {
        postMessage(k);
        break;
      }
      Atomics.wait(flags, 0, 1, interval);
    }
  }
};`;

let workerUrl: string | undefined;

/** A running pacer; stop() ends its worker. */
export interface Pacer {
  stop(): void;
}

/** How early the worker wakes the main thread before a due time: about its wake-up latency's tail here. */
export const DEFAULT_LEAD_MS = 0.15;

/**
 * Calls onTick at about `startMs + k * intervalMs` (k = 1, 2, …; startMs on
 * this thread's performance.now() clock) until stopped, never before it. Falls
 * back to timers when workers are unavailable.
 */
export function startPacer(startMs: number, intervalMs: number, onTick: () => void, leadMs = DEFAULT_LEAD_MS): Pacer {
  let worker: Worker;
  try {
    workerUrl ??= URL.createObjectURL(new Blob([WORKER_SOURCE], { type: "application/javascript" }));
    worker = new Worker(workerUrl);
  } catch {
    return timerPacer(intervalMs, onTick);
  }
  const lead = Math.min(leadMs, intervalMs / 2);
  const sab = new SharedArrayBuffer(8);
  const flags = new Int32Array(sab);
  worker.onmessage = (e: MessageEvent<number>) => {
    Atomics.store(flags, 0, 0);
    Atomics.notify(flags, 0);
    // Early by up to `lead`: wait out the rest here (a short spin, bounded by the lead).
    const due = startMs + e.data * intervalMs;
    const limit = performance.now() + lead;
    for (let now = performance.now(); now < due && now < limit; now = performance.now());
    onTick();
  };
  worker.postMessage({ sab, start: performance.timeOrigin + startMs, interval: intervalMs, lead });
  worker.unref();
  let stopped = false;
  return {
    stop: () => {
      if (stopped) return;
      stopped = true;
      Atomics.store(flags, 1, 1);
      Atomics.notify(flags, 1);
      worker.onmessage = null;
      worker.terminate();
    },
  };
}

function timerPacer(intervalMs: number, onTick: () => void): Pacer {
  const t = setInterval(onTick, Math.max(1, intervalMs));
  return { stop: () => clearInterval(t) };
}
