/**
 * Wakes the main thread at scheduled times without spinning and without the
 * ~1 ms grid that timers fire on here: a worker sleeps precisely
 * (Atomics.wait, a futex) until each due time and posts a tick. Ticks are
 * coalesced: while the main thread has not handled one, no more are posted,
 * so a busy client is never flooded (the scheduler catches up from the clock).
 */
const WORKER_SOURCE = `
self.onmessage = (e) => {
  const { sab, start, interval } = e.data;
  const flags = new Int32Array(sab); // [0] tick pending, [1] stop
  const now = () => performance.timeOrigin + performance.now();
  for (let k = 1; Atomics.load(flags, 1) === 0; k++) {
    const due = start + k * interval;
    for (let wait = due - now(); wait > 0 && Atomics.load(flags, 1) === 0; wait = due - now()) Atomics.wait(flags, 1, 0, wait);
    if (Atomics.compareExchange(flags, 0, 0, 1) === 0) postMessage(k);
  }
};`;

let workerUrl: string | undefined;

/** A running pacer; stop() ends its worker. */
export interface Pacer {
  stop(): void;
}

/**
 * Calls onTick at about `startMs + k * intervalMs` (k = 1, 2, …; startMs on
 * this thread's performance.now() clock) until stopped. Falls back to timers
 * when workers are unavailable.
 */
export function startPacer(startMs: number, intervalMs: number, onTick: () => void): Pacer {
  let worker: Worker;
  try {
    workerUrl ??= URL.createObjectURL(new Blob([WORKER_SOURCE], { type: "application/javascript" }));
    worker = new Worker(workerUrl);
  } catch {
    return timerPacer(intervalMs, onTick);
  }
  const sab = new SharedArrayBuffer(8);
  const flags = new Int32Array(sab);
  worker.onmessage = () => {
    Atomics.store(flags, 0, 0);
    onTick();
  };
  worker.postMessage({ sab, start: performance.timeOrigin + startMs, interval: intervalMs });
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
