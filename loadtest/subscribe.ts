import { create } from "@bufbuild/protobuf";
import { PublishRequestSchema } from "../proto/gen/prism/interfaces/pubsub/pubsub_basic_pb";
import { Code, PrismError } from "../sdk/grpc/errors";
import type { CallOptions } from "../sdk/grpc/types";
import type { LoadOptions } from "./flags";
import { Stats } from "./stats";
import { valueOf, type Connection, type Issue } from "./workload";

/**
 * Payload header of a stamped message: scheduled send time (float64, ms on this
 * process's performance clock), run tag (uint32), phase (uint8). Publisher and
 * subscriber are the same process, so the clock is shared and monotonic.
 */
export const HEADER_BYTES = 13;
export const Phase = { warmup: 0, measure: 1, probe: 2 } as const;
export type Phase = (typeof Phase)[keyof typeof Phase];

/** A publisher whose every payload carries its scheduled send time, its run and its phase. */
export function stampedPublisher(conn: Connection, opts: Pick<LoadOptions, "topic" | "valueSize">, tag: number) {
  const payload = valueOf(Math.max(HEADER_BYTES, opts.valueSize));
  const view = new DataView(payload.buffer);
  view.setUint32(8, tag);
  const req = create(PublishRequestSchema, { topic: opts.topic, payload });
  const client = conn.pubsub.client;
  const callOptions = conn.callOptions;
  let phase: Phase = Phase.warmup;
  // The payload is rewritten per call: safe, the client serializes synchronously inside publish().
  const issue: Issue = (_seq, scheduledMs) => {
    view.setFloat64(0, scheduledMs);
    view.setUint8(12, phase);
    return client.publish(req, callOptions);
  };
  return {
    issue,
    setPhase: (p: Phase) => {
      phase = p;
    },
  };
}

/** Reads one subscription and records publish → receive latency of this run's measured messages. */
export class Receiver {
  /** Measured-phase messages received. */
  received = 0;
  probesReceived = 0;
  /** Set when the stream ends with an error other than our own cancel. */
  error?: PrismError;
  private readonly abort = new AbortController();
  private readonly done: Promise<void>;
  private wake?: () => void;

  constructor(
    conn: Connection,
    topic: string,
    private readonly tag: number,
    private readonly stats: Stats,
  ) {
    // No deadline on the stream itself: it lives for the whole run and is cancelled at the end.
    const opts: CallOptions = { metadata: conn.callOptions.metadata, signal: this.abort.signal };
    const stream = conn.pubsub.client.subscribe({ topic, subscriberId: `prism-load-${tag.toString(16)}` }, opts);
    this.done = this.read(stream);
  }

  private async read(stream: AsyncIterable<{ payload: Uint8Array }>): Promise<void> {
    try {
      for await (const msg of stream) {
        const p = msg.payload;
        if (p.byteLength < HEADER_BYTES) continue;
        const view = new DataView(p.buffer, p.byteOffset, p.byteLength);
        if (view.getUint32(8) !== this.tag) continue; // another run's message on the same topic
        const phase = view.getUint8(12);
        if (phase === Phase.measure) {
          const latency = performance.now() - view.getFloat64(0);
          this.stats.success(latency, latency);
          this.received++;
        } else if (phase === Phase.probe) this.probesReceived++;
        this.wake?.();
      }
    } catch (err) {
      if (!this.abort.signal.aborted) this.error = PrismError.from(err);
    }
    this.wake?.();
  }

  /** Resolves when `cond` holds, the stream ends, or timeoutMs passes; returns whether cond held. */
  async until(cond: () => boolean, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    const deadline = performance.now() + timeoutMs;
    while (!cond() && !this.error && performance.now() < deadline && !signal?.aborted) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(100, Math.max(1, deadline - performance.now())));
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
    this.wake = undefined;
    return cond();
  }

  async close(): Promise<void> {
    this.abort.abort();
    await this.done;
  }
}

/**
 * Waits until the subscription delivers: publishes probe messages until one
 * comes back (a Kafka consumer, for one, needs a while to join its group).
 */
export async function awaitSubscription(
  publisher: ReturnType<typeof stampedPublisher>,
  receiver: Receiver,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  publisher.setPhase(Phase.probe);
  let seq = 0;
  while (receiver.probesReceived === 0 && performance.now() < deadline && !signal.aborted) {
    if (receiver.error) throw receiver.error;
    try {
      await publisher.issue(seq++, performance.now());
    } catch (err) {
      throw new PrismError(PrismError.from(err).code, `publishing a probe to check the subscription failed: ${PrismError.from(err).message}`, { cause: err });
    }
    await receiver.until(() => receiver.probesReceived > 0, 200, signal);
  }
  if (receiver.error) throw receiver.error;
  if (receiver.probesReceived === 0 && !signal.aborted)
    throw new PrismError(Code.DEADLINE_EXCEEDED, `the subscription delivered nothing within ${timeoutMs} ms of publishing probes`);
}
