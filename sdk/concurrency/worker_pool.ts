import { Code, PrismError } from "../errors";
import { abortReason, anySignal } from "./abort";
import { AsyncQueue } from "./async_queue";

/** Work for a WorkerPool; `signal` aborts when the pool's or the submitter's signal does. */
export type Task<T> = (signal: AbortSignal) => Promise<T>;

/** Size of a WorkerPool. */
export interface WorkerPoolOptions {
  /** Tasks run at the same time. */
  workers: number;
  /** Tasks waiting for a worker before submit() blocks (default 2 × workers). */
  queueSize?: number;
  /** Aborting cancels the pool: running tasks see the abort, queued ones are rejected, submits are refused. */
  signal?: AbortSignal;
}

/** What submit() hands back once a task is queued. */
export interface Submitted<T> {
  /** Settles with the task's outcome (a rejection here is never reported as unhandled). */
  readonly result: Promise<T>;
}

interface Job {
  run: Task<unknown>;
  signal: AbortSignal | undefined;
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
}

const noop = () => undefined;

/**
 * Runs async tasks on a fixed number of workers fed by a bounded queue, so a producer that outpaces the
 * backend is slowed down (submit waits while the queue is full) instead of buffering without limit.
 */
export class WorkerPool {
  private readonly queue: AsyncQueue<Job>;
  private readonly controller = new AbortController();
  private readonly workers: Promise<void>[];
  private running = 0;

  constructor(opts: WorkerPoolOptions) {
    if (!(opts.workers >= 1)) throw new RangeError(`WorkerPool needs at least 1 worker, got ${opts.workers}`);
    this.queue = new AsyncQueue<Job>({ capacity: Math.max(1, opts.queueSize ?? opts.workers * 2) });
    const outer = opts.signal;
    if (outer) {
      const onAbort = () => this.cancel(abortReason(outer));
      if (outer.aborted) onAbort();
      else outer.addEventListener("abort", onAbort, { once: true });
    }
    this.workers = Array.from({ length: opts.workers }, () => this.work());
  }

  /** Tasks currently running. */
  get active(): number {
    return this.running;
  }

  /** Tasks accepted and waiting for a worker. */
  get queued(): number {
    return this.queue.size;
  }

  /**
   * Queues a task, waiting while the queue is full (back-pressure); resolves once queued. Rejects with the abort
   * reason if `signal` aborts while waiting, and with PrismError(UNAVAILABLE) once the pool is closed.
   */
  async submit<T>(task: Task<T>, signal?: AbortSignal): Promise<Submitted<T>> {
    let resolve: (value: T) => void = noop;
    let reject: (err: unknown) => void = noop;
    const result = new Promise<T>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    result.catch(noop);
    const job: Job = { run: task, signal, resolve: resolve as (value: unknown) => void, reject };
    if (this.controller.signal.aborted) throw abortReason(this.controller.signal);
    const accepted = await this.queue.push(job, anySignal(signal, this.controller.signal));
    if (!accepted) throw new PrismError(Code.UNAVAILABLE, "worker pool closed");
    return { result };
  }

  /** Stops accepting tasks and resolves once every queued and running task has finished (drain). */
  async close(): Promise<void> {
    this.queue.close();
    await Promise.all(this.workers);
  }

  private cancel(reason: unknown): void {
    this.controller.abort(reason);
    this.queue.close();
  }

  private async work(): Promise<void> {
    for (;;) {
      const next = await this.queue.next();
      if (next.done) return;
      const job = next.value;
      const signal = anySignal(this.controller.signal, job.signal) as AbortSignal;
      if (signal.aborted) {
        job.reject(abortReason(signal));
        continue;
      }
      this.running++;
      try {
        job.resolve(await job.run(signal));
      } catch (err) {
        job.reject(err);
      } finally {
        this.running--;
      }
    }
  }
}
