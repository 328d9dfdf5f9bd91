import { type Resilience } from "@prism/sdk";
import type { RedisConnection } from "./connection";

/** What every part of the Redis driver shares: the connection, the breaker/retry guard and the key prefix. */
export interface RedisContext {
  readonly conn: RedisConnection;
  readonly guard: Resilience;
  /** Put before every key and channel name, so namespaces sharing one Redis never meet. */
  readonly prefix: string;
  readonly cluster: boolean;
  /** A write through the guard, followed by WAIT / WAITAOF when `wait` is configured (durability). */
  write<T>(fn: () => Promise<T>): Promise<T>;
}

export { asBuffer } from "@prism/sdk";
