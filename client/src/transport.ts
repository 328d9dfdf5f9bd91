import type { DescService } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { type ClientHandle, createClient } from "../../sdk/grpc/client";
import { Code, PrismClientError } from "./errors";
import type { ResolvedOptions } from "./options";
import { backoffMs, retryable, type Safety, sleep } from "./retry";

/** The header a write carries so that sending it again applies it once (contract §5). */
export const IDEMPOTENCY_HEADER = "x-prism-idempotency-key";

/** The user agent this library announces (before grpc-js's own). */
export const USER_AGENT = "prism-client-ts/0.1.0";

/** Per-call options every client method accepts. */
export interface CallOptions {
  /** Cancels the call (and a subscription, with its resubscriptions). */
  signal?: AbortSignal;
  /** This call's deadline in ms, instead of the connection's. */
  deadline?: number;
  /** Extra metadata; an `x-prism-idempotency-key` given here is used instead of a generated one. */
  metadata?: Record<string, string>;
}

type Method = (req: unknown, opts?: { timeoutMs?: number; metadata?: Record<string, string>; signal?: AbortSignal }) => unknown;

/** One proxy address: its channel, the typed clients on it, and until when it is avoided after an UNAVAILABLE. */
class Endpoint {
  private readonly handles = new Map<DescService, ClientHandle<DescService>>();
  private readonly first: ClientHandle<DescService>;
  downUntil = 0;
  failures = 0;

  constructor(
    readonly address: string,
    credentials: grpc.ChannelCredentials,
    options: grpc.ChannelOptions,
    anyService: DescService,
  ) {
    this.first = createClient(anyService, address, credentials, options);
    this.handles.set(anyService, this.first);
  }

  method(service: DescService, name: string): Method {
    let h = this.handles.get(service);
    if (h === undefined) {
      h = createClient(service, this.first.raw);
      this.handles.set(service, h);
    }
    return (h.client as Record<string, Method>)[name]!;
  }

  close(): void {
    this.first.close();
  }
}

function credentialsOf(o: ResolvedOptions): { credentials: grpc.ChannelCredentials; options: grpc.ChannelOptions } {
  // The proxy's deprecation log names callers by user agent (docs/migration.md).
  const agent = { "grpc.primary_user_agent": USER_AGENT };
  if (o.tls === undefined) return { credentials: grpc.credentials.createInsecure(), options: agent };
  const buf = (v: string | Uint8Array | undefined) => (v === undefined ? null : Buffer.from(v));
  return {
    credentials: grpc.credentials.createSsl(buf(o.tls.ca), buf(o.tls.key), buf(o.tls.cert)),
    options: o.tls.serverName ? { ...agent, "grpc.ssl_target_name_override": o.tls.serverName, "grpc.default_authority": o.tls.serverName } : agent,
  };
}

/** Reports an OK reply whose `success` is false or whose `error` is set as the failure it is (contract §5). */
function failedReply(method: string, reply: unknown): PrismClientError | undefined {
  const r = reply as { success?: unknown; error?: unknown } | null;
  if (typeof r !== "object" || r === null) return undefined;
  const why = typeof r.error === "string" && r.error !== "" ? r.error : r.success === false ? "the reply says success=false" : undefined;
  return why === undefined ? undefined : new PrismClientError(Code.UNKNOWN, `${method} answered OK but failed: ${why}`, { reason: "failed" });
}

/**
 * Sends calls to the proxies: spreads them round-robin over the addresses not recently UNAVAILABLE, applies the
 * deadline (all attempts of a call share it), adds metadata and idempotency keys, retries what is safe with
 * backoff and jitter, and turns every failure into a PrismClientError.
 */
export class Transport {
  private readonly endpoints: Endpoint[];
  private next = 0;

  constructor(
    readonly options: ResolvedOptions,
    anyService: DescService,
  ) {
    const { credentials, options: channel } = credentialsOf(options);
    this.endpoints = options.addresses.map((a) => new Endpoint(a, credentials, channel, anyService));
  }

  /** The address the next call goes to: round-robin over those not avoided; else the one avoided the shortest. */
  private pick(): Endpoint {
    const now = Date.now();
    for (let i = 0; i < this.endpoints.length; i++) {
      const ep = this.endpoints[(this.next + i) % this.endpoints.length]!;
      if (ep.downUntil <= now) {
        this.next = (this.next + i + 1) % this.endpoints.length;
        return ep;
      }
    }
    return this.endpoints.reduce((a, b) => (a.downUntil <= b.downUntil ? a : b));
  }

  private observe(ep: Endpoint, err: PrismClientError | undefined): void {
    if (err?.code !== Code.UNAVAILABLE) {
      ep.failures = 0;
      ep.downUntil = 0;
      return;
    }
    ep.failures++;
    ep.downUntil = Date.now() + Math.min(30_000, 500 * 2 ** (ep.failures - 1));
  }

  private metadataFor(safety: Safety, opts: CallOptions | undefined): { metadata: Record<string, string>; safety: Safety } {
    const metadata = { ...this.options.metadata, ...opts?.metadata };
    if (safety !== "keyed") return { metadata, safety };
    if (metadata[IDEMPOTENCY_HEADER] === undefined && this.options.idempotencyKeys) metadata[IDEMPOTENCY_HEADER] = globalThis.crypto.randomUUID();
    // A keyed write without a key is a plain write: never sent twice.
    return { metadata, safety: metadata[IDEMPOTENCY_HEADER] === undefined ? "write" : "keyed" };
  }

  /** One unary call with the retry policy of its safety class. */
  async unary<T>(service: DescService, method: string, req: unknown, safety: Safety, opts?: CallOptions): Promise<T> {
    return this.attempts(service, method, () => req, safety, opts);
  }

  /**
   * A client stream (requests in, one reply) with the retry policy of its safety class. `requests` is asked for
   * the messages again on every attempt; a source that cannot be read twice passes `replayable: false` and is
   * sent once (its idempotency key still lets the server recognise a caller's own retry). The signal cancels
   * the call at the next message.
   */
  async clientStream<T>(service: DescService, method: string, requests: () => AsyncIterable<unknown>, replayable: boolean, opts?: CallOptions): Promise<T> {
    const signal = opts?.signal;
    const guarded = async function* () {
      for await (const m of requests()) {
        signal?.throwIfAborted();
        yield m;
      }
    };
    return this.attempts(service, method, guarded, "keyed", opts, !replayable);
  }

  private async attempts<T>(service: DescService, method: string, req: () => unknown, safety: Safety, opts?: CallOptions, once = false): Promise<T> {
    const deadlineAt = Date.now() + (opts?.deadline ?? this.options.deadline);
    const { metadata, safety: effective } = this.metadataFor(safety, opts);
    const label = `${service.name}/${service.methods.find((m) => m.localName === method)?.name ?? method}`;
    for (let attempt = 1; ; attempt++) {
      const ep = this.pick();
      let err: PrismClientError;
      try {
        const reply = await ep.method(service, method)(req(), { timeoutMs: Math.max(1, deadlineAt - Date.now()), metadata, signal: opts?.signal });
        this.observe(ep, undefined);
        const failed = failedReply(label, reply);
        if (failed) throw failed;
        return reply as T;
      } catch (e) {
        err = PrismClientError.from(e);
        this.observe(ep, err);
      }
      const delayMs = backoffMs(attempt, this.options.retry.initialBackoffMs, this.options.retry.maxBackoffMs);
      const give = once || attempt >= this.options.retry.attempts || !retryable(effective, err) || opts?.signal?.aborted || Date.now() + delayMs >= deadlineAt;
      if (give) throw err;
      this.options.onEvent({ kind: "retry", method: label, attempt, error: err, delayMs });
      const to = this.endpoints.length > 1 ? this.peek() : ep;
      if (to !== ep) this.options.onEvent({ kind: "failover", from: ep.address, to: to.address, error: err });
      await sleep(delayMs, opts?.signal).catch(() => {
        throw new PrismClientError(Code.CANCELLED, `${label}: cancelled`, { cause: err });
      });
    }
  }

  /** The address pick() would answer, without moving on. */
  private peek(): Endpoint {
    const saved = this.next;
    const ep = this.pick();
    this.next = saved;
    return ep;
  }

  /**
   * A server stream as an async iterable read at the consumer's pace (grpc-js stops reading past its buffer, so
   * HTTP/2 flow control holds the server back). A finite stream (`subscribe` false) is retried, under the
   * call's deadline, only before its first item, or from `resume(req, lastItem)` when given. A subscription
   * has no deadline and is opened again after every failure that is not the caller's (with backoff, until the
   * signal aborts); it ends when the server ends it.
   */
  async *stream<T>(
    service: DescService,
    method: string,
    req: unknown,
    opts: CallOptions & { subscribe?: boolean; resume?: (req: unknown, last: T) => unknown } = {},
  ): AsyncGenerator<T> {
    const label = `${service.name}/${method}`;
    const deadlineAt = opts.subscribe ? undefined : Date.now() + (opts.deadline ?? this.options.deadline);
    const { metadata } = this.metadataFor("read", opts);
    let current = req;
    for (let failures = 1; ; failures++) {
      const ep = this.pick();
      let delivered = false;
      let err: PrismClientError;
      try {
        const timeoutMs = deadlineAt === undefined ? undefined : Math.max(1, deadlineAt - Date.now());
        const items = ep.method(service, method)(current, { timeoutMs, metadata, signal: opts.signal }) as AsyncIterable<T>;
        for await (const item of items) {
          if (!delivered) this.observe(ep, undefined);
          delivered = true;
          failures = 1;
          if (opts.resume) current = opts.resume(current, item);
          yield item;
        }
        return;
      } catch (e) {
        err = PrismClientError.from(e);
        this.observe(ep, err);
      }
      if (opts.signal?.aborted) throw new PrismClientError(Code.CANCELLED, `${label}: cancelled`, { cause: err });
      const delayMs = backoffMs(failures, this.options.retry.initialBackoffMs, this.options.retry.maxBackoffMs);
      if (opts.subscribe) {
        if (!resubscribable(err)) throw err;
        this.options.onEvent({ kind: "resubscribe", method: label, attempt: failures, error: err });
      } else {
        const canResume = !delivered || opts.resume !== undefined;
        if (!canResume || failures >= this.options.retry.attempts || !retryable("read", err) || Date.now() + delayMs >= deadlineAt!) throw err;
        this.options.onEvent({ kind: "retry", method: label, attempt: failures, error: err, delayMs });
      }
      await sleep(delayMs, opts.signal).catch(() => {
        throw new PrismClientError(Code.CANCELLED, `${label}: cancelled`, { cause: err });
      });
    }
  }

  close(): void {
    for (const ep of this.endpoints) ep.close();
  }
}

/** A subscription is opened again after a failure of the path (proxy, pattern, backend), not after a refusal of the request. */
const FINAL: ReadonlySet<number> = new Set([
  Code.INVALID_ARGUMENT,
  Code.NOT_FOUND,
  Code.UNIMPLEMENTED,
  Code.PERMISSION_DENIED,
  Code.UNAUTHENTICATED,
  Code.FAILED_PRECONDITION,
  Code.ALREADY_EXISTS,
  Code.OUT_OF_RANGE,
]);
function resubscribable(err: PrismClientError): boolean {
  return !FINAL.has(err.code);
}
