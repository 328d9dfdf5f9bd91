// Waiting in tests without fixed sleeps: poll a condition until a deadline, and prove an absence by waiting for a
// marker that travels the same path after the thing that must not arrive.

export interface WaitOptions {
  /** Give up (and throw) after this long. */
  timeoutMs?: number;
  /** Pause between checks. */
  intervalMs?: number;
}

/** Polls `check` until it returns a truthy value (returned), or throws naming `what` once `timeoutMs` has passed. */
export async function waitFor<T>(check: () => T | Promise<T>, what: string, { timeoutMs = 10_000, intervalMs = 50 }: WaitOptions = {}): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting until ${what}`);
    await Bun.sleep(intervalMs);
  }
}

export interface AbsenceCheck extends WaitOptions {
  /** Sends a marker down the same path, after whatever must not arrive would have been sent. */
  sendMarker: () => unknown;
  /** True once the marker has arrived: by then the unwanted thing would have arrived too. */
  markerArrived: () => boolean | Promise<boolean>;
  /** Truthy when the unwanted thing arrived (a string says what arrived). */
  happened: () => boolean | string | Promise<boolean | string>;
}

/**
 * Proves `what` did not happen: sends a marker, waits for it (failing at the deadline, so a broken path cannot
 * pass), then fails when `happened()` is true. No sleep long enough "by now" — the marker is the proof of time.
 */
export async function expectAbsent(what: string, o: AbsenceCheck): Promise<void> {
  await o.sendMarker();
  await waitFor(o.markerArrived, `the marker sent after ${what} arrived`, o);
  const seen = await o.happened();
  if (seen) throw new Error(`${what} happened${typeof seen === "string" ? `: ${seen}` : ""}`);
}
