import { abortReason, raceAbort } from "./abort";
import { AsyncQueue } from "./async_queue";
import { Semaphore } from "./semaphore";

/** Returned by a stage's transform to drop the item (a filter stage). */
export const SKIP: unique symbol = Symbol("pipeline.skip");

/** One step of a pipeline: an async transform run on up to `concurrency` items at a time. */
export interface Stage<I, O> {
  /** Items transformed at the same time (default 1). */
  concurrency?: number;
  /** Keep input order in the output (default true); false emits results as they complete. */
  ordered?: boolean;
  /** Maps one item; `signal` aborts when the pipeline is cancelled, fails or the consumer stops. */
  transform(item: I, signal: AbortSignal): Promise<O | typeof SKIP> | O | typeof SKIP;
}

/** Options of pipeline(). */
export interface PipelineOptions {
  /** Items buffered between two stages before the upstream stage waits (default 16). */
  bufferSize?: number;
  /** Aborting stops every stage and the consumer's next() rejects with the reason. */
  signal?: AbortSignal;
}

/** Where a pipeline reads from. */
export type PipelineSource<T> = AsyncIterable<T> | Iterable<T>;

/**
 * Streams items from `source` through `stages`, each with its own concurrency and a bounded buffer after it, so a
 * slow stage holds back the ones before it (back-pressure) instead of letting memory grow. The first error stops
 * every stage and is thrown to the consumer; a consumer that breaks out early stops the stages and closes the
 * source (its iterator's return() runs), and the break completes only after the stages have stopped.
 */
export function pipeline<A, B>(source: PipelineSource<A>, stages: readonly [Stage<A, B>], opts?: PipelineOptions): AsyncIterableIterator<B>;
export function pipeline<A, B, C>(source: PipelineSource<A>, stages: readonly [Stage<A, B>, Stage<B, C>], opts?: PipelineOptions): AsyncIterableIterator<C>;
export function pipeline<A, B, C, D>(
  source: PipelineSource<A>,
  stages: readonly [Stage<A, B>, Stage<B, C>, Stage<C, D>],
  opts?: PipelineOptions,
): AsyncIterableIterator<D>;
export function pipeline<A, B, C, D, E>(
  source: PipelineSource<A>,
  stages: readonly [Stage<A, B>, Stage<B, C>, Stage<C, D>, Stage<D, E>],
  opts?: PipelineOptions,
): AsyncIterableIterator<E>;
export function pipeline<T>(source: PipelineSource<unknown>, stages: readonly Stage<unknown, unknown>[], opts?: PipelineOptions): AsyncIterableIterator<T>;
export function pipeline(
  source: PipelineSource<unknown>,
  stages: readonly Stage<unknown, unknown>[],
  opts: PipelineOptions = {},
): AsyncIterableIterator<unknown> {
  const bufferSize = opts.bufferSize ?? 16;
  const controller = new AbortController();
  const signal = controller.signal;
  const fail = (err: unknown) => {
    if (!signal.aborted) controller.abort(err);
  };
  const outer = opts.signal;
  const onOuterAbort = () => fail(abortReason(outer as AbortSignal));
  const detachOuter = () => outer?.removeEventListener("abort", onOuterAbort);
  if (outer?.aborted) onOuterAbort();
  else outer?.addEventListener("abort", onOuterAbort, { once: true });

  const source$ = trackPending(toAsyncIterator(source));
  const running: Promise<void>[] = [];
  let input: AsyncIterator<unknown> = source$.iterator;
  for (const stage of stages) {
    const out = new AsyncQueue<unknown>({ capacity: bufferSize, signal });
    running.push(runStage(stage, input, out, signal, fail).catch(fail));
    input = out;
  }
  const output = input;
  running.push(closeSourceOnStop(source$, signal));
  const stopped = Promise.all(running).then(() => undefined);

  return {
    next: () =>
      output.next().then(
        (r) => {
          if (r.done) detachOuter();
          return r;
        },
        (err: unknown) => {
          detachOuter();
          throw err;
        },
      ),
    async return() {
      detachOuter();
      fail(new DOMException("pipeline consumer stopped", "AbortError"));
      await output.return?.();
      await stopped;
      return { done: true, value: undefined };
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}

function toAsyncIterator<T>(source: PipelineSource<T>): AsyncIterator<T> {
  if (Symbol.asyncIterator in source) return source[Symbol.asyncIterator]();
  const it = source[Symbol.iterator]();
  return {
    next: async () => it.next(),
    return: async () => it.return?.() ?? { done: true, value: undefined },
  };
}

interface TrackedSource {
  iterator: AsyncIterator<unknown>;
  /** True while a next() call on the source has not settled. */
  pending: () => boolean;
  close: () => Promise<unknown>;
}

function trackPending(source: AsyncIterator<unknown>): TrackedSource {
  let pending = 0;
  return {
    iterator: {
      next: () => {
        pending++;
        return Promise.resolve()
          .then(() => source.next())
          .finally(() => pending--);
      },
    },
    pending: () => pending > 0,
    close: () => Promise.resolve().then(() => source.return?.()),
  };
}

/**
 * Once the pipeline stops, asks the source to release what it holds (cursor, subscription, generator `finally`).
 * Waits for that unless a next() on the source is still pending (an async generator would only run return()
 * after it, which may be never): then return() is requested but not awaited, so stopping never hangs.
 */
function closeSourceOnStop(source: TrackedSource, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve) => {
    const close = () => {
      const closing = source.close().then(
        () => undefined,
        () => undefined,
      );
      if (source.pending()) resolve();
      else void closing.then(resolve);
    };
    if (signal.aborted) close();
    else signal.addEventListener("abort", close, { once: true });
  });
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

/** Runs one transform; never rejects, and reports a failure to `fail` at once so the pipeline stops early. */
function settle(stage: Stage<unknown, unknown>, item: unknown, signal: AbortSignal, fail: (err: unknown) => void): Promise<Outcome> {
  return Promise.resolve()
    .then(() => stage.transform(item, signal))
    .then(
      (value): Outcome => ({ ok: true, value }),
      (error: unknown): Outcome => {
        fail(error);
        return { ok: false, error };
      },
    );
}

/** Reads `input`, transforms with bounded concurrency, writes to `out` (waiting while it is full), then closes it. */
async function runStage(
  stage: Stage<unknown, unknown>,
  input: AsyncIterator<unknown>,
  out: AsyncQueue<unknown>,
  signal: AbortSignal,
  fail: (err: unknown) => void,
): Promise<void> {
  const slots = new Semaphore(Math.max(1, stage.concurrency ?? 1));
  const emit = async (outcome: Outcome): Promise<void> => {
    if (!outcome.ok) throw outcome.error;
    if (outcome.value !== SKIP) await out.push(outcome.value, signal);
  };

  if (stage.ordered === false) {
    const inFlight = new Set<Promise<void>>();
    for (;;) {
      const release = await slots.acquire(signal);
      const next = await raceAbort(input.next(), signal);
      if (next.done) {
        release();
        break;
      }
      const task: Promise<void> = settle(stage, next.value, signal, fail)
        .then(emit)
        .catch(fail)
        .finally(() => {
          release();
          inFlight.delete(task);
        });
      inFlight.add(task);
    }
    await Promise.all(inFlight);
    out.close();
    return;
  }

  // Ordered: transforms start as permits allow and results leave in input order; a permit comes back only once
  // its result has been emitted, so results finished but waiting for an earlier one count against concurrency.
  const order = new AsyncQueue<{ outcome: Promise<Outcome>; release: () => void }>({ capacity: Infinity, signal });
  const reader = (async () => {
    for (;;) {
      const release = await slots.acquire(signal);
      const next = await raceAbort(input.next(), signal);
      if (next.done) {
        release();
        break;
      }
      order.offer({ outcome: settle(stage, next.value, signal, fail), release });
    }
    order.close();
  })();
  reader.catch(fail);
  for (;;) {
    const next = await order.next();
    if (next.done) break;
    await emit(await next.value.outcome);
    next.value.release();
  }
  await reader;
  out.close();
}
