import { Code, PrismError } from "../errors";
import { abortReason, anySignal, raceAbort } from "./abort";

/** The per-item call of a fan-out; `signal` aborts when the fan-out is cancelled or the item times out. */
export type FanOutFn<I, O> = (item: I, index: number, signal: AbortSignal) => Promise<O>;

/**
 * Calls `fn` on every item with at most `concurrency` calls in flight and returns one settled result per item,
 * in input order, so one failed destination (a region, a subscriber) never hides the outcome of the others.
 * If `signal` aborts, items not yet finished settle as rejected with its reason and the call returns at once.
 */
export function boundedFanOut<I, O>(items: readonly I[], concurrency: number, fn: FanOutFn<I, O>, signal?: AbortSignal): Promise<PromiseSettledResult<O>[]> {
  return fanOut(items, concurrency, fn, signal, undefined);
}

/**
 * Same as boundedFanOut, but an item still running after `itemTimeoutMs` settles as rejected with
 * PrismError(DEADLINE_EXCEEDED), its signal is aborted, and its slot goes to the next item.
 */
export function boundedFanOutWithTimeout<I, O>(
  items: readonly I[],
  concurrency: number,
  itemTimeoutMs: number,
  fn: FanOutFn<I, O>,
  signal?: AbortSignal,
): Promise<PromiseSettledResult<O>[]> {
  return fanOut(items, concurrency, fn, signal, itemTimeoutMs);
}

async function fanOut<I, O>(
  items: readonly I[],
  concurrency: number,
  fn: FanOutFn<I, O>,
  signal: AbortSignal | undefined,
  itemTimeoutMs: number | undefined,
): Promise<PromiseSettledResult<O>[]> {
  if (!(concurrency >= 1)) throw new RangeError(`fan-out concurrency must be at least 1, got ${concurrency}`);
  const results = new Array<PromiseSettledResult<O>>(items.length);
  let nextIndex = 0;

  const runOne = async (index: number): Promise<void> => {
    const item = items[index] as I;
    if (signal?.aborted) {
      results[index] = { status: "rejected", reason: abortReason(signal) };
      return;
    }
    const timeout = itemTimeoutMs === undefined ? undefined : new AbortController();
    const timer =
      timeout &&
      setTimeout(() => timeout.abort(new PrismError(Code.DEADLINE_EXCEEDED, `fan-out item ${index} timed out after ${itemTimeoutMs} ms`)), itemTimeoutMs);
    const itemSignal = anySignal(signal, timeout?.signal) ?? new AbortController().signal;
    try {
      const value = await raceAbort(
        Promise.resolve().then(() => fn(item, index, itemSignal)),
        itemSignal,
      );
      results[index] = { status: "fulfilled", value };
    } catch (reason) {
      results[index] = { status: "rejected", reason };
    } finally {
      clearTimeout(timer);
    }
  };

  const worker = async (): Promise<void> => {
    while (nextIndex < items.length) await runOne(nextIndex++);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  return results;
}
