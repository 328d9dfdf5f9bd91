import type { PrismClientError } from "./errors";

/** TLS towards the proxy: `true` for the system roots, or PEM contents (not paths) for a private CA and a client certificate. */
export interface TlsOptions {
  ca?: string | Uint8Array;
  cert?: string | Uint8Array;
  key?: string | Uint8Array;
  /** The name the server certificate must carry when it differs from the address' host. */
  serverName?: string;
}

/** Retries: only reads, and writes that carry an idempotency key (contract §5). */
export interface RetryOptions {
  /** Attempts in all, the first included (1 = never retry). Default 4. */
  attempts?: number;
  /** First backoff; doubled per attempt up to maxBackoffMs, each with full jitter. Default 50 ms. */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
}

/** What happened that a program may want to see: an emulated operation, a retry, a fail-over, a resubscription. */
export type ClientEvent =
  | { kind: "emulated"; pattern: string; operation: string; backend: string; how: string }
  | { kind: "retry"; method: string; attempt: number; error: PrismClientError; delayMs: number }
  | { kind: "failover"; from: string; to: string; error: PrismClientError }
  | { kind: "resubscribe"; method: string; attempt: number; error: PrismClientError };

export interface ConnectOptions {
  /** host:port of a proxy; or `addresses` for several (calls spread over them, fail over on UNAVAILABLE). */
  address?: string;
  addresses?: string[];
  /** x-prism-namespace of every call. Default "default". */
  namespace?: string;
  tls?: boolean | TlsOptions;
  /** Bearer token (JWT) sent as `authorization`. */
  token?: string;
  /** API key sent as `x-api-key`. */
  apiKey?: string;
  /** Deadline of each call in ms (every attempt of it included). Default 10 s. Subscriptions have none. */
  deadline?: number;
  retry?: RetryOptions | false;
  /** Add `x-prism-idempotency-key` to every write that honours it, so those writes may be retried. Default true. */
  idempotencyKeys?: boolean;
  /** host:port of the proxy's admin HTTP port (for `patterns()`). */
  adminAddress?: string;
  /** Called on emulated operations, retries, fail-overs and resubscriptions. Default: a console.warn once per emulated operation. */
  onEvent?: (event: ClientEvent) => void;
  /** Sent with every call, after Prism's own headers. */
  metadata?: Record<string, string>;
  /**
   * Ask each pattern for its capabilities on connect (default true). false: connect makes no call, and only the
   * modules without capabilities (health, admin, pubsub, stream, list) are usable — for tools that must work
   * while the namespace's pattern is down.
   */
  probe?: boolean;
}

/** ConnectOptions with defaults applied. */
export interface ResolvedOptions {
  addresses: string[];
  namespace: string;
  tls?: TlsOptions;
  deadline: number;
  retry: Required<RetryOptions>;
  idempotencyKeys: boolean;
  adminAddress?: string;
  onEvent: (event: ClientEvent) => void;
  metadata: Record<string, string>;
  probe: boolean;
}

export function resolveOptions(o: ConnectOptions): ResolvedOptions {
  const addresses = [...(o.addresses ?? []), ...(o.address ? [o.address] : [])];
  if (addresses.length === 0) throw new TypeError("connect: give address or addresses");
  const metadata: Record<string, string> = { "x-prism-namespace": o.namespace ?? "default", ...o.metadata };
  if (o.token) metadata.authorization = `Bearer ${o.token}`;
  if (o.apiKey) metadata["x-api-key"] = o.apiKey;
  const retry = o.retry === false ? { attempts: 1 } : (o.retry ?? {});
  return {
    addresses,
    namespace: o.namespace ?? "default",
    tls: o.tls === true ? {} : o.tls || undefined,
    deadline: o.deadline ?? 10_000,
    retry: { attempts: Math.max(1, retry.attempts ?? 4), initialBackoffMs: retry.initialBackoffMs ?? 50, maxBackoffMs: retry.maxBackoffMs ?? 2_000 },
    idempotencyKeys: o.idempotencyKeys ?? true,
    adminAddress: o.adminAddress,
    onEvent: o.onEvent ?? warnOncePerEmulation(),
    metadata,
    probe: o.probe ?? true,
  };
}

/** The default hook: one console.warn per emulated operation, nothing else (the counters still count). */
function warnOncePerEmulation(): (e: ClientEvent) => void {
  const seen = new Set<string>();
  return (e) => {
    if (e.kind !== "emulated") return;
    const id = `${e.pattern}.${e.operation}`;
    if (seen.has(id)) return;
    seen.add(id);
    console.warn(`prism client: ${id} is emulated by ${e.backend}: ${e.how}`);
  };
}
