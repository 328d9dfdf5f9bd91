import type { JsonObject, MessageInitShape } from "@bufbuild/protobuf";
import type { CapabilitiesSchema } from "../proto/gen/prism/patterns/multicast_registry/multicast_registry_pattern_pb";
import { createHash, randomUUID } from "node:crypto";
import {
  Bulkhead,
  boundedFanOut,
  Code,
  PrismError,
  notFound,
  type Driver,
  type HealthReport,
  type HealthState,
  type StreamDriver,
  type Logger,
} from "@prism/sdk";
import { type Delivery, Dispatcher, type MessagingDriver } from "./dispatcher";
import type { FilterNode } from "./filter";
import { type IdentityRecord, IdentityStore, checkIdentity } from "./identities";

/** The durability slot's driver. */
export type DurabilityDriver = Driver & StreamDriver;

export type Status = "DELIVERED" | "QUEUED" | "FAILED" | "NOT_SUBSCRIBED" | "TIMEOUT";

export interface Outcome {
  identity: string;
  status: Status;
  latencyMs: number;
  error: string;
}

export interface MulticastResult {
  messageId: string;
  results: Outcome[];
}

export interface RegistrySettings {
  maxIdentities: number;
  deliveryConcurrency: number;
  /** Subscribed targets per delivery message. */
  deliveryBatch: number;
  subscriberBuffer: number;
  presenceTtlMs: number;
  multicastTimeoutMs: number;
}

const SUB_PREFIX = "sub/";
/** Set once something was queued for an identity (kept until Unregister); its value is the stream partition. */
const QUEUED_PREFIX = "qp/";
/** Next durability offset to deliver to an identity. */
const OFFSET_PREFIX = "qo/";
const encoder = new TextEncoder();
const decoder = new TextDecoder();
/** Registry calls of Subscribe set-ups (lookup, presence) in flight at once. */
const SETUP_CONCURRENCY = 32;
/** How long Subscribe waits for the delivery subscription before UNAVAILABLE. */
const READY_TIMEOUT_MS = 30_000;

/** The durability stream of one identity: hex only, so every backend's stream naming accepts it. */
export const queueStream = (identity: string) => `mcastq-${createHash("sha256").update(identity).digest("hex").slice(0, 32)}`;

const worst = (a: HealthState, b: HealthState): HealthState =>
  a === "unhealthy" || b === "unhealthy" ? "unhealthy" : a === "degraded" || b === "degraded" ? "degraded" : "healthy";

/**
 * The Multicast Registry over its slots: identities in the registry slot, deliveries through the messaging
 * slot, messages for identities not subscribed in the durability slot when there is one. Presence (an
 * identity has a Subscribe stream open somewhere) is a key with a short TTL in the registry slot, refreshed
 * while the stream is open, so any instance can tell whether a multicast reaches someone.
 */
export class MulticastRegistry implements Driver {
  readonly name = "multicast-registry";
  readonly version: string;
  readonly dispatcher: Dispatcher;
  /** What GetCapabilities answers, computed once from the slots filled (capabilities.ts). */
  capabilities: MessageInitShape<typeof CapabilitiesSchema> = {};
  private readonly bulkhead: Bulkhead;
  private readonly setup: Bulkhead;
  private readonly refresher: ReturnType<typeof setInterval>;

  constructor(
    version: string,
    readonly store: IdentityStore,
    readonly messaging: MessagingDriver,
    readonly durability: DurabilityDriver | undefined,
    readonly settings: RegistrySettings,
    private readonly logger: Logger,
  ) {
    this.version = version;
    this.dispatcher = new Dispatcher(messaging, logger, settings.subscriberBuffer);
    this.bulkhead = new Bulkhead({ name: "delivery", maxConcurrent: settings.deliveryConcurrency, maxQueue: 1_000_000 });
    this.setup = new Bulkhead({ name: "subscribe set-up", maxConcurrent: SETUP_CONCURRENCY, maxQueue: 1_000_000 });
    this.dispatcher.start();
    this.refresher = setInterval(() => void this.refreshPresence(), Math.max(1_000, settings.presenceTtlMs / 3));
    this.refresher.unref?.();
  }

  private get kv() {
    return this.store.driver;
  }

  register(identity: string, metadata: JsonObject, ttlMs: number) {
    checkIdentity(identity);
    return this.store.register(identity, metadata, ttlMs);
  }

  async unregister(identity: string): Promise<boolean> {
    checkIdentity(identity);
    const found = await this.store.unregister(identity);
    if (this.durability) await Promise.all([this.kv.delete(QUEUED_PREFIX + identity), this.kv.delete(OFFSET_PREFIX + identity)]);
    return found;
  }

  enumerate(filter: FilterNode | undefined, limit: number, cursor: string, signal: AbortSignal) {
    return this.store.page(filter, limit, cursor, signal);
  }

  /** Which of these identities have a Subscribe stream open (on any instance). */
  async subscribed(identities: readonly string[], signal: AbortSignal): Promise<boolean[]> {
    const keys = identities.map((i) => SUB_PREFIX + i);
    const batchGet = this.kv.batchGet?.bind(this.kv);
    if (batchGet) {
      const out: boolean[] = [];
      for (let i = 0; i < keys.length; i += 500) {
        signal.throwIfAborted();
        for (const v of await batchGet(keys.slice(i, i + 500))) out.push(v !== undefined);
      }
      return out;
    }
    const settled = await boundedFanOut(keys, 64, async (k) => (await this.kv.get(k)) !== undefined, signal);
    return settled.map((s) => {
      if (s.status === "rejected") throw s.reason;
      return s.value;
    });
  }

  /** Delivers payload to every live identity the filter selects; one outcome per identity. */
  async multicast(filter: FilterNode | undefined, payload: Uint8Array, timeoutMs: number, callSignal: AbortSignal): Promise<MulticastResult> {
    const bound = timeoutMs > 0 ? timeoutMs : this.settings.multicastTimeoutMs;
    const timeout = AbortSignal.timeout(bound);
    const signal = AbortSignal.any([callSignal, timeout]);
    const d: Delivery = { payload, messageId: randomUUID(), timestamp: Date.now() };
    const targets: string[] = [];
    try {
      for await (const r of this.store.all(filter, signal)) targets.push(r.identity);
    } catch (err) {
      if (timeout.aborted) throw new PrismError(Code.DEADLINE_EXCEEDED, `multicast: selecting targets took longer than ${bound} ms; nothing was sent`);
      throw err;
    }
    const present = await this.subscribed(targets, signal).catch((err) => {
      if (timeout.aborted) throw new PrismError(Code.DEADLINE_EXCEEDED, `multicast: presence lookup took longer than ${bound} ms; nothing was sent`);
      throw err;
    });
    // Work items: subscribed targets in batches (one message each), the others one by one.
    type Item = { kind: "publish"; at: number[] } | { kind: "queue" | "absent"; at: [number] };
    const items: Item[] = [];
    let batch: number[] = [];
    for (let i = 0; i < targets.length; i++) {
      if (present[i]) {
        batch.push(i);
        if (batch.length === this.settings.deliveryBatch) {
          items.push({ kind: "publish", at: batch });
          batch = [];
        }
      } else items.push({ kind: this.durability ? "queue" : "absent", at: [i] });
    }
    if (batch.length > 0) items.push({ kind: "publish", at: batch });
    const latency: number[] = new Array(items.length).fill(0);
    const settled = await boundedFanOut(
      items,
      this.settings.deliveryConcurrency,
      async (item, n, itemSignal): Promise<Status> => {
        const t0 = performance.now();
        try {
          if (item.kind === "publish") {
            const ids = item.at.map((i) => targets[i]!);
            await this.bulkhead.execute(async () => void (await this.dispatcher.publish(ids, d)), itemSignal);
            return "DELIVERED";
          }
          if (item.kind === "queue") {
            await this.bulkhead.execute(() => this.enqueue(targets[item.at[0]]!, d), itemSignal);
            return "QUEUED";
          }
          return "NOT_SUBSCRIBED";
        } finally {
          latency[n] = performance.now() - t0;
        }
      },
      signal,
    );
    const results = new Array<Outcome>(targets.length);
    settled.forEach((s, n) => {
      const latencyMs = Math.round(latency[n]!);
      let status: Status;
      let error = "";
      if (s.status === "fulfilled") {
        status = s.value;
        if (status === "NOT_SUBSCRIBED") error = "not subscribed and no durability slot";
      } else if (timeout.aborted) {
        status = "TIMEOUT";
        error = `not done within ${bound} ms`;
      } else {
        status = "FAILED";
        error = PrismError.from(s.reason).message;
      }
      for (const i of items[n]!.at) results[i] = { identity: targets[i]!, status, latencyMs, error };
    });
    return { messageId: d.messageId, results };
  }

  private async enqueue(identity: string, d: Delivery): Promise<void> {
    // Every record of one identity has the same key, so the same partition (0 on one-partition backends):
    // the marker remembers which, for the reader.
    const { partition } = await this.durability!.append(queueStream(identity), d.payload, { mid: d.messageId, ts: String(d.timestamp) }, identity);
    await this.kv.set(QUEUED_PREFIX + identity, encoder.encode(String(partition)), 0);
  }

  /** Messages kept for identity while it was not subscribed, oldest first; the offset advances after the last. */
  private async *drainQueue(identity: string, signal: AbortSignal): AsyncIterable<Delivery> {
    const durability = this.durability;
    if (!durability) return;
    const marker = await this.kv.get(QUEUED_PREFIX + identity);
    if (!marker) return;
    const partition = Number(decoder.decode(marker)) || 0;
    const stored = await this.kv.get(OFFSET_PREFIX + identity);
    const from = stored ? Number(decoder.decode(stored)) || 0 : 0;
    const stream = queueStream(identity);
    let last = -1;
    for await (const r of durability.read({ stream, partition, fromOffset: from, fromTimestamp: 0, maxRecords: 0, follow: false, signal })) {
      yield { payload: r.payload, messageId: r.metadata.mid ?? `${stream}:${r.offset}`, timestamp: Number(r.metadata.ts) || r.timestamp };
      last = r.offset;
    }
    if (last < 0) return;
    await this.kv.set(OFFSET_PREFIX + identity, encoder.encode(String(last + 1)), 0);
    try {
      await durability.trim(stream, partition, last + 1);
    } catch (err) {
      this.logger.debug("durability trim failed (offset kept)", { err });
    }
  }

  /**
   * The deliveries for one registered identity while the caller reads: first what the durability slot kept
   * for it, then live ones. NOT_FOUND when not registered.
   */
  async *subscribe(identity: string, signal: AbortSignal): AsyncIterable<Delivery> {
    checkIdentity(identity);
    // Thousands of streams opening at once would put thousands of registry calls in flight together, each
    // waiting behind the others past the driver's command timeout: the set-up is bounded instead.
    const registered = await this.setup.execute(async () => (await this.store.get(identity)) !== undefined, signal);
    if (!registered) throw notFound(`identity "${identity}" is not registered`);
    await this.dispatcher.whenReady(READY_TIMEOUT_MS, signal);
    const q = this.dispatcher.add(identity, signal);
    try {
      await this.setup.execute(async () => void (await this.markPresent(identity)), signal);
      yield* this.drainQueue(identity, signal);
      yield* q;
    } finally {
      if (this.dispatcher.remove(identity, q)) await Promise.resolve(this.kv.delete(SUB_PREFIX + identity)).catch(() => undefined);
    }
  }

  private markPresent(identity: string) {
    return this.kv.set(SUB_PREFIX + identity, encoder.encode(this.dispatcher.instanceId), Math.ceil(this.settings.presenceTtlMs / 1000));
  }

  private async refreshPresence(): Promise<void> {
    const ids = this.dispatcher.identities();
    if (ids.length === 0) return;
    const settled = await boundedFanOut(ids, SETUP_CONCURRENCY, (id) => Promise.resolve(this.markPresent(id)));
    const failed = settled.filter((s) => s.status === "rejected").length;
    if (failed > 0) this.logger.warn("presence refresh failed for some subscribers", { failed, of: ids.length });
  }

  async health(): Promise<HealthReport> {
    const slots: [string, Driver | undefined][] = [
      ["registry", this.kv],
      ["messaging", this.messaging],
      ["durability", this.durability],
    ];
    let status: HealthState = this.dispatcher.ready ? "healthy" : "degraded";
    const details: Record<string, string> = {
      delivery_subscription: this.dispatcher.ready ? "ready" : "not ready",
      subscribers: String(this.dispatcher.streams),
      dropped: String(this.dispatcher.dropped),
    };
    const messages: string[] = this.dispatcher.ready ? [] : ["delivery subscription not ready"];
    for (const [slot, driver] of slots) {
      if (!driver) continue;
      try {
        const r = await driver.health();
        status = worst(status, r.status);
        details[`${slot}.status`] = r.status;
        if (r.message) messages.push(`${slot}: ${r.message}`);
      } catch (err) {
        status = "unhealthy";
        messages.push(`${slot}: ${PrismError.from(err).message}`);
      }
    }
    return { status, message: messages.join("; "), details };
  }

  async close(): Promise<void> {
    clearInterval(this.refresher);
    await this.dispatcher.close();
  }
}

export type { IdentityRecord };
