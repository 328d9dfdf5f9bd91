import type { JsonObject, MessageInitShape } from "@bufbuild/protobuf";
import type { DrainResponse, HealthCheckResponse, InitializeResponse, StartResponse, StopResponse } from "../../proto/gen/prism/interfaces/lifecycle_pb";
import type { PatternMessage, ProxyCommandSchema, RegisterRequest } from "../../proto/gen/prism/interfaces/proxy_control_plane_pb";
import { Code, PrismError } from "@prism/sdk";
import type { LifecycleChannel } from "./channel";

export type OutgoingCommand = MessageInitShape<typeof ProxyCommandSchema>;

/** An unbounded FIFO that is also an async iterable; the proxy sends few commands, so no bound is needed. */
class Outbox<T> implements AsyncIterable<T> {
  private readonly items: T[] = [];
  private wake: (() => void) | undefined;
  private ended = false;

  push(item: T): void {
    if (this.ended) return;
    this.items.push(item);
    this.wake?.();
  }
  end(): void {
    this.ended = true;
    this.wake?.();
  }
  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    while (true) {
      while (this.items.length > 0) yield this.items.shift()!;
      if (this.ended) return;
      await new Promise<void>((r) => (this.wake = r));
      this.wake = undefined;
    }
  }
}

interface Pending {
  expect: PatternMessage["message"]["case"];
  resolve(value: unknown): void;
  reject(err: unknown): void;
  timer: ReturnType<typeof setTimeout>;
}

/**
 * The proxy's end of one pattern's ManagePattern stream: sends commands with
 * correlation ids and matches the answers; every request is bounded, and all of
 * them fail with UNAVAILABLE once the stream is lost.
 */
export class StreamLifecycleChannel implements LifecycleChannel {
  readonly outbox = new Outbox<OutgoingCommand>();
  readonly lost: Promise<string>;
  /** Time of the last message from the pattern (heartbeat or answer). */
  lastSeen = Date.now();
  private readonly pending = new Map<string, Pending>();
  private seq = 0;
  private lostReason: string | undefined;
  private markLost!: (reason: string) => void;

  constructor(readonly registration: RegisterRequest) {
    this.lost = new Promise((r) => (this.markLost = r));
  }

  /** An answer or heartbeat from the pattern. */
  receive(msg: PatternMessage): void {
    this.lastSeen = Date.now();
    const p = this.pending.get(msg.correlationId);
    if (p === undefined || msg.message.case !== p.expect) return;
    this.pending.delete(msg.correlationId);
    clearTimeout(p.timer);
    p.resolve(msg.message.value);
  }

  /** The stream ended: fail what is pending and stop sending. */
  lose(reason: string): void {
    if (this.lostReason !== undefined) return;
    this.lostReason = reason;
    this.outbox.end();
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(new PrismError(Code.UNAVAILABLE, `control stream lost: ${reason}`));
    }
    this.pending.clear();
    this.markLost(reason);
  }

  private request<T>(command: OutgoingCommand["command"], expect: Pending["expect"], timeoutMs: number): Promise<T> {
    if (this.lostReason !== undefined) return Promise.reject(new PrismError(Code.UNAVAILABLE, `control stream lost: ${this.lostReason}`));
    const correlationId = String(++this.seq);
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(correlationId);
        reject(new PrismError(Code.DEADLINE_EXCEEDED, `pattern did not answer ${command?.case} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(correlationId, { expect, resolve: resolve as (v: unknown) => void, reject, timer });
      this.outbox.push({ correlationId, command });
    });
  }

  initialize(req: { name: string; version: string; config: JsonObject }, timeoutMs: number) {
    return this.request<InitializeResponse>({ case: "initialize", value: req }, "initializeResponse", timeoutMs);
  }
  start(timeoutMs: number) {
    return this.request<StartResponse>({ case: "start", value: {} }, "startResponse", timeoutMs);
  }
  healthCheck(timeoutMs: number) {
    return this.request<HealthCheckResponse>({ case: "healthCheck", value: {} }, "healthResponse", timeoutMs);
  }
  drain(req: { timeoutSeconds: number; reason: string }, timeoutMs: number) {
    return this.request<DrainResponse>({ case: "drain", value: req }, "drainResponse", timeoutMs);
  }
  stop(req: { timeoutSeconds: number }, timeoutMs: number) {
    return this.request<StopResponse>({ case: "stop", value: req }, "stopResponse", timeoutMs);
  }
  close(): void {
    this.lose("closed by the proxy");
  }
}
