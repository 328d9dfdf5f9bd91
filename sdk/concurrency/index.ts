/** Concurrency primitives of the Pattern SDK (RFC-025): the public surface, re-exported from one place. */
export { abortReason, anySignal, raceAbort, sleep } from "./abort";
export { AsyncQueue, type AsyncQueueOptions, type OverflowPolicy } from "./async_queue";
export { Bulkhead, type BulkheadOptions } from "./bulkhead";
export { CircuitBreaker, isBackendFailure, type CircuitBreakerOptions, type CircuitState } from "./circuit_breaker";
export { boundedFanOut, boundedFanOutWithTimeout, type FanOutFn } from "./fanout";
export { pipeline, SKIP, type PipelineOptions, type PipelineSource, type Stage } from "./pipeline";
export { backoff, isTransient, retry, type BackoffOptions, type RetryOptions } from "./retry";
export { Semaphore, type Release } from "./semaphore";
export { WorkerPool, type Submitted, type Task, type WorkerPoolOptions } from "./worker_pool";
export { type Poller, Wakers } from "./wakers";
