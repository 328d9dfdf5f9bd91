import { randomUUID } from "node:crypto";
import { AsyncQueue, backoff, sleep } from "../sdk/concurrency";
import type { Driver, PubSubDriver, PubSubMessage } from "../sdk/drivers/interfaces";
import { unavailable } from "../sdk/errors";
import type { Logger } from "../sdk/observability/logger";

/** The messaging slot's driver. */
export type MessagingDriver = Driver & PubSubDriver;

/** What a Subscribe stream hands to its client. */
export interface Delivery {
  payload: Uint8Array;
  messageId: string;
  /** Unix ms of the multicast. */
  timestamp: number;
}

/** The one topic deliveries travel on (in the messaging driver's namespace). */
export const DELIVERY_TOPIC = "mcast-deliveries";

/**
 * This instance's end of the messaging slot: one subscription to the delivery topic, under a subscriber id
 * of its own (so every instance of the pattern receives every delivery), and the local Subscribe streams
 * each delivery is handed to by the identity in its metadata. The subscription counts as ready once a probe
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

  /** Publishes one delivery for identity. */
  publish(identity: string, d: Delivery): Promise<unknown> | unknown {
    return this.messaging.publish(DELIVERY_TOPIC, d.payload, { identity, mid: d.messageId, ts: String(d.timestamp) }, identity);
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
    const identity = m.metadata.identity;
    const set = identity === undefined ? undefined : this.local.get(identity);
    if (!set) {
      this.unrouted++;
      return;
    }
    const d: Delivery = { payload: m.payload, messageId: m.metadata.mid ?? m.messageId, timestamp: Number(m.metadata.ts) || m.timestamp };
    for (const q of set) if (!q.offer(d)) this.dropped++;
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
