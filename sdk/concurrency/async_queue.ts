import { abortReason } from "./abort";

/** What push does when the queue is full: wait for room, evict the oldest item, or refuse the new one. */
export type OverflowPolicy = "block" | "drop-oldest" | "drop-newest";

/** Size, overflow behaviour and clean-up hook of an AsyncQueue. */
export interface AsyncQueueOptions {
  /** Items buffered before the overflow policy applies (at least 1; Infinity for unbounded). */
  capacity: number;
  /** Default "block". */
  overflow?: OverflowPolicy;
  /** Aborting ends the queue at once: buffered items are discarded and the consumer gets the abort reason. */
  signal?: AbortSignal;
  /**
   * Runs once when the consumer side stops early (iterator `return()`, i.e. `break` in for-await, or `signal`
   * aborting), e.g. to unsubscribe from the source; not run when the producer ends with close() or fail().
   */
  onClose?: () => void;
}

interface Taker<T> {
  resolve: (r: IteratorResult<T, undefined>) => void;
  reject: (err: unknown) => void;
}

interface Pusher<T> {
  value: T;
  resolve: (accepted: boolean) => void;
  cleanup: () => void;
}

type Phase = "open" | "closed" | "failed" | "stopped";

const DONE: IteratorResult<never, undefined> = { done: true, value: undefined };

/**
 * A bounded async queue that is also an async iterator: the hand-off between a producer (a subscription
 * callback, a stream reader, a pipeline stage) and an async consumer, with back-pressure or a drop policy,
 * end of stream, errors, and clean-up when the consumer stops early (shape of nats.js QueuedIterator).
 */
export class AsyncQueue<T> implements AsyncIterableIterator<T, undefined, undefined> {
  readonly capacity: number;
  readonly overflow: OverflowPolicy;
  private readonly buffer: T[] = [];
  private readonly takers: Taker<T>[] = [];
  private readonly pushers: Pusher<T>[] = [];
  private phase: Phase = "open";
  private error: unknown;
  private droppedCount = 0;
  private readonly signal: AbortSignal | undefined;
  private onClose: (() => void) | undefined;
  private readonly onAbort = () => this.abort();

  constructor(opts: AsyncQueueOptions) {
    if (!(opts.capacity >= 1)) throw new RangeError(`AsyncQueue capacity must be at least 1, got ${opts.capacity}`);
    this.capacity = opts.capacity;
    this.overflow = opts.overflow ?? "block";
    this.onClose = opts.onClose;
    this.signal = opts.signal;
    if (this.signal?.aborted) this.abort();
    else this.signal?.addEventListener("abort", this.onAbort, { once: true });
  }

  /** Items buffered and not yet taken. */
  get size(): number {
    return this.buffer.length;
  }

  /** Items lost to the drop-oldest / drop-newest policies. */
  get dropped(): number {
    return this.droppedCount;
  }

  /** True once no more items will be accepted. */
  get closed(): boolean {
    return this.phase !== "open";
  }

  /**
   * Adds an item. Under "block" waits while the queue is full (rejecting with the abort reason if `signal`
   * aborts); resolves true once accepted, false if the queue was closed or (drop-newest) the item was dropped.
   */
  push(value: T, signal?: AbortSignal): Promise<boolean> {
    if (this.phase !== "open") return Promise.resolve(false);
    if (this.overflow !== "block" || this.hasRoom()) return Promise.resolve(this.offer(value));
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    return new Promise<boolean>((resolve, reject) => {
      const onAbort = () => {
        const i = this.pushers.indexOf(pusher);
        if (i >= 0) this.pushers.splice(i, 1);
        reject(abortReason(signal as AbortSignal));
      };
      const pusher: Pusher<T> = { value, resolve, cleanup: () => signal?.removeEventListener("abort", onAbort) };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.pushers.push(pusher);
    });
  }

  /**
   * Adds an item without waiting (for synchronous callbacks): true if accepted; false if closed, if full under
   * "block", or if dropped under "drop-newest". Under "drop-oldest" the oldest buffered item makes room.
   */
  offer(value: T): boolean {
    if (this.phase !== "open") return false;
    const taker = this.takers.shift();
    if (taker) {
      taker.resolve({ done: false, value });
      return true;
    }
    if (this.buffer.length < this.capacity) {
      this.buffer.push(value);
      return true;
    }
    if (this.overflow === "drop-oldest") {
      this.buffer.shift();
      this.buffer.push(value);
      this.droppedCount++;
      return true;
    }
    if (this.overflow === "drop-newest") this.droppedCount++;
    return false;
  }

  /** Producer's end of stream: buffered items are still delivered, then the iterator is done. */
  close(): void {
    if (this.phase !== "open") return;
    this.phase = "closed";
    this.settleWaiters();
  }

  /** Producer's failure: buffered items are still delivered, then every next() rejects with `err`. */
  fail(err: unknown): void {
    if (this.phase !== "open") return;
    this.phase = "failed";
    this.error = err;
    this.settleWaiters();
  }

  /** Takes the next item, waiting for one; done once closed and drained; rejects after fail() or abort. */
  next(): Promise<IteratorResult<T, undefined>> {
    if (this.buffer.length > 0) {
      const value = this.buffer.shift() as T;
      this.admitPusher();
      return Promise.resolve({ done: false, value });
    }
    switch (this.phase) {
      case "open":
        return new Promise((resolve, reject) => this.takers.push({ resolve, reject }));
      case "failed":
        return Promise.reject(this.error);
      default:
        return Promise.resolve(DONE);
    }
  }

  /** Consumer stops early (for-await `break`): discards what is buffered, refuses further pushes, runs onClose. */
  async return(): Promise<IteratorResult<T, undefined>> {
    this.terminate("stopped");
    return DONE;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  private abort(): void {
    if (this.phase === "stopped") return;
    this.error = abortReason(this.signal as AbortSignal);
    this.terminate("failed");
  }

  /** Consumer-side end (return or abort): nothing buffered is delivered any more, and onClose runs once. */
  private terminate(phase: "stopped" | "failed"): void {
    if (this.phase !== "stopped") {
      this.phase = phase;
      this.buffer.length = 0;
      this.settleWaiters();
    }
    const onClose = this.onClose;
    this.onClose = undefined;
    onClose?.();
  }

  private hasRoom(): boolean {
    return this.takers.length > 0 || this.buffer.length < this.capacity;
  }

  private admitPusher(): void {
    const pusher = this.pushers.shift();
    if (!pusher) return;
    pusher.cleanup();
    this.buffer.push(pusher.value);
    pusher.resolve(true);
  }

  /** Once the queue ends: blocked pushers are refused, waiting consumers get the end or the error. */
  private settleWaiters(): void {
    this.signal?.removeEventListener("abort", this.onAbort);
    for (const pusher of this.pushers.splice(0)) {
      pusher.cleanup();
      pusher.resolve(false);
    }
    for (const taker of this.takers.splice(0)) {
      if (this.phase === "failed") taker.reject(this.error);
      else taker.resolve(DONE);
    }
  }
}
