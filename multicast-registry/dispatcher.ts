import { randomUUID } from "node:crypto";
import { AsyncQueue, backoff, sleep, unavailable, type Driver, type PubSubDriver, type PubSubMessage, type Logger } from "@prism/sdk";

/** The messaging slot's driver. */
export type MessagingDriver = Driver & PubSubDriver;

/** What a Subscribe stream hands to its client. */
export interface Delivery {
  payload: Uint8Array;
  messageId: string;
  /** Unix ms of the multicast. */
  timestamp: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeEnvelope(identities: readonly string[], payload: Uint8Array): Uint8Array {
  const ids = encoder.encode(JSON.stringify(identities));
  const out = new Uint8Array(4 + ids.length + payload.length);
  new DataView(out.buffer).setUint32(0, ids.length);
  out.set(ids, 4);
  out.set(payload, 4 + ids.length);
  return out;
}

/** The identities and payload of a delivery message, or undefined for anything else on the topic. */
export function decodeEnvelope(b: Uint8Array): { identities: string[]; payload: Uint8Array } | undefined {
  if (b.length < 4) return undefined;
  const n = new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(0);
  if (4 + n > b.length) return undefined;
  try {
    const identities = JSON.parse(decoder.decode(b.subarray(4, 4 + n))) as unknown;
    if (!Array.isArray(identities) || !identities.every((i) => typeof i === "string")) return undefined;
    return { identities, payload: b.subarray(4 + n) };
  } catch {
    return undefined;
  }
}

/** The one topic deliveries travel on (in the messaging driver's namespace). */
export const DELIVERY_TOPIC = "mcast-deliveries";

/**
 * This instance's end of the messaging slot: one subscription to the delivery topic, under a subscriber id
 * of its own (so every instance of the pattern receives every delivery), and the local Subscribe streams
 * each delivery is handed to by the identities listed in its metadata. The subscription counts as ready once a probe
 * published by this instance has come back through the backend (a Kafka consumer that has not joined yet
 * would miss deliveries); it is re-made with backoff when the backend ends or breaks it.
 */
export class Dispatcher {
  readonly instanceId = randomUUID();
  private readonly local = new Map<string, Set<AsyncQueue<Delivery>>>();
  private readonly stopping = new AbortController();
  private isReady = false;
  private readyWaiters: (() => void)[] = [];
  private loop: Promise<void> | undefined;
  /** Deliveries dropped because a subscriber's buffer was full. */
  dropped = 0;
  /** Deliveries that arrived for an identity with no stream open here. */
  unrouted = 0;

  constructor(
    readonly messaging: MessagingDriver,
    private readonly logger: Logger,
    private readonly bufferSize: number,
  ) {}

  get ready(): boolean {
    return this.isReady;
  }

  start(): void {
    this.loop ??= this.run();
  }

  /** Resolves once the subscription is live; UNAVAILABLE after timeoutMs. */
  async whenReady(timeoutMs: number, signal?: AbortSignal): Promise<void> {
    if (this.isReady) return;
    let waiter!: () => void;
    const ok = await Promise.race([
      new Promise<boolean>((r) => this.readyWaiters.push((waiter = () => r(true)))),
      sleep(timeoutMs, signal).then(
        () => false,
        () => false,
      ),
    ]);
    this.readyWaiters = this.readyWaiters.filter((w) => w !== waiter);
    if (!ok) throw unavailable(`messaging backend ${this.messaging.name}: delivery subscription not ready within ${timeoutMs} ms`);
  }

  /** A queue receiving the deliveries for identity until `remove`. */
  add(identity: string, signal: AbortSignal): AsyncQueue<Delivery> {
    const q = new AsyncQueue<Delivery>({ capacity: this.bufferSize, overflow: "drop-newest", signal });
    let set = this.local.get(identity);
    if (!set) this.local.set(identity, (set = new Set()));
    set.add(q);
    return q;
  }

  /** Removes a stream's queue; true when it was the identity's last one here. */
  remove(identity: string, q: AsyncQueue<Delivery>): boolean {
    const set = this.local.get(identity);
    if (!set) return true;
    set.delete(q);
    q.close();
    if (set.size > 0) return false;
    this.local.delete(identity);
    return true;
  }

  /** Identities with a stream open here. */
  identities(): string[] {
    return [...this.local.keys()];
  }

  get streams(): number {
    let n = 0;
    for (const s of this.local.values()) n += s.size;
    return n;
  }

  /**
   * Publishes one delivery for a batch of identities: one message carrying them (envelope: 4-byte length,
   * the identities as a JSON array, then the payload; binary-safe on every backend, unlike header values), so
   * a multicast to 10,000 subscribers is a hundred messages on the backend rather than 10,000 (whose bounded
   * subscriber buffers would drop most of a burst).
   */
  publish(identities: readonly string[], d: Delivery): Promise<unknown> | unknown {
    return this.messaging.publish(DELIVERY_TOPIC, encodeEnvelope(identities, d.payload), { mid: d.messageId, ts: String(d.timestamp) }, identities[0] ?? "");
  }

  private route(m: PubSubMessage, probe: string): void {
    if (m.metadata.probe !== undefined) {
      if (m.metadata.probe === probe && !this.isReady) {
        this.isReady = true;
        for (const w of this.readyWaiters.splice(0)) w();
        this.logger.info("delivery subscription ready", { messaging: this.messaging.name, instance: this.instanceId });
      }
      return;
    }
    const envelope = decodeEnvelope(m.payload);
    if (!envelope) return;
    const d: Delivery = { payload: envelope.payload, messageId: m.metadata.mid ?? m.messageId, timestamp: Number(m.metadata.ts) || m.timestamp };
    for (const identity of envelope.identities) {
      const set = this.local.get(identity);
      if (!set) {
        this.unrouted++;
        continue;
      }
      for (const q of set) if (!q.offer(d)) this.dropped++;
    }
  }

  private async run(): Promise<void> {
    const signal = this.stopping.signal;
    for (let attempt = 0; !signal.aborted; attempt++) {
      const probe = randomUUID();
      const attemptDone = new AbortController();
      try {
        const messages = this.messaging.subscribe({ topic: DELIVERY_TOPIC, subscriberId: `mcast-${this.instanceId}`, options: {}, signal });
        void this.probe(probe, AbortSignal.any([signal, attemptDone.signal]));
        for await (const m of messages) {
          this.route(m, probe);
          if (this.isReady) attempt = 0;
        }
        if (signal.aborted) return;
        this.logger.warn("delivery subscription ended; subscribing again", { messaging: this.messaging.name });
      } catch (err) {
        if (signal.aborted) return;
        this.logger.warn("delivery subscription failed; subscribing again", { messaging: this.messaging.name, err });
      } finally {
        attemptDone.abort();
      }
      this.isReady = false;
      await sleep(backoff(attempt, { initialDelayMs: 200, maxDelayMs: 5_000 }), signal).catch(() => undefined);
    }
  }

  /** Publishes the probe until it comes back (or the attempt ends). */
  private async probe(probe: string, signal: AbortSignal): Promise<void> {
    while (!signal.aborted && !this.isReady) {
      try {
        await this.messaging.publish(DELIVERY_TOPIC, new Uint8Array(), { probe }, this.instanceId);
      } catch (err) {
        this.logger.debug("delivery probe failed", { err });
      }
      await sleep(500, signal).catch(() => undefined);
    }
  }

  /** Ends the subscription and every local stream. */
  async close(): Promise<void> {
    this.stopping.abort();
    for (const set of this.local.values()) for (const q of set) q.close();
    this.local.clear();
    await this.loop;
  }
}
