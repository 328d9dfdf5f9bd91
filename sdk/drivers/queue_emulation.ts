import type { KeyValueBasicDriver, KeyValueScanDriver } from "./interfaces";
import {
  type QueueDeadLetter,
  type QueueDeadLetterDriver,
  type QueueDeadLetterPage,
  type QueueDelivery,
  type QueueDriver,
  REDRIVE_GROUP_HEADER,
} from "./queue";

/** A key-value store able to hold dead letters: basic operations and prefix scans. */
export type DeadLetterStore = KeyValueBasicDriver & KeyValueScanDriver;

export function isDeadLetterStore(d: unknown): d is DeadLetterStore {
  const s = d as Partial<DeadLetterStore> | undefined;
  return typeof s?.set === "function" && typeof s.get === "function" && typeof s.scan === "function" && typeof s.count === "function";
}

interface StoredDeadLetter {
  messageId: string;
  key: string;
  payload: string;
  headers: Record<string, string>;
  publishedAt: number;
  attempts: number;
  lastError: string;
  deadLetteredAt: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Dead letters for a queue driver that keeps none (QueueDeadLetterDriver, emulated): each is one JSON value in a
 * key-value store under `queue-dlq/<topic>/<group>/<message id>` (topic and group URI-encoded), written before the
 * delivery is acked, so a crash in between leaves the message both dead-lettered and redelivered once more (at
 * least once; the same key is overwritten). Redrive republishes the message to the topic with the header
 * x-prism-redrive-group (a new message id and attempt count), then deletes the dead letter; consumers of other
 * groups ack such messages unseen (isForOtherGroup).
 */
export class EmulatedDeadLetters implements QueueDeadLetterDriver {
  constructor(
    private readonly queue: QueueDriver,
    private readonly store: DeadLetterStore,
    private readonly now: () => number = Date.now,
  ) {}

  async queueDeadLetter(topic: string, group: string, delivery: QueueDelivery, lastError: string): Promise<void> {
    const { [REDRIVE_GROUP_HEADER]: _, ...headers } = delivery.headers;
    const stored: StoredDeadLetter = {
      messageId: delivery.messageId,
      key: delivery.key,
      payload: Buffer.from(delivery.payload).toString("base64"),
      headers,
      publishedAt: delivery.publishedAt,
      attempts: delivery.attempt - 1,
      lastError,
      deadLetteredAt: this.now(),
    };
    await this.store.set(prefix(topic, group) + delivery.messageId, encoder.encode(JSON.stringify(stored)), 0);
    await this.queue.queueAck(topic, group, [delivery.token]);
  }

  async queueDeadLetters(topic: string, group: string, limit: number, cursor: string): Promise<QueueDeadLetterPage> {
    const entries: QueueDeadLetter[] = [];
    let nextCursor = "";
    const signal = new AbortController().signal;
    for await (const e of this.store.scan({ prefix: prefix(topic, group), limit, cursor, withValues: true, signal })) {
      if (e.value) entries.push(parse(e.value));
      if (e.nextCursor) nextCursor = e.nextCursor;
    }
    return { entries, nextCursor };
  }

  async queueRedrive(topic: string, group: string, messageIds: string[]): Promise<number> {
    const p = prefix(topic, group);
    let keys = messageIds.map((id) => p + id);
    if (messageIds.length === 0) {
      keys = [];
      const signal = new AbortController().signal;
      for await (const e of this.store.scan({ prefix: p, limit: 0, cursor: "", withValues: false, signal })) keys.push(e.key);
    }
    let n = 0;
    for (const k of keys) {
      const raw = await this.store.get(k);
      if (!raw) continue;
      const d = parse(raw);
      await this.queue.queuePublish(topic, [{ key: d.key, payload: d.payload, headers: { ...d.headers, [REDRIVE_GROUP_HEADER]: group } }]);
      await this.store.delete(k);
      n++;
    }
    return n;
  }

  async queueDeadLetterCount(topic: string, group: string): Promise<number> {
    return this.store.count(prefix(topic, group));
  }
}

/** True when a delivery is a message redriven (by the emulation) for another group than `group`. */
export function isForOtherGroup(d: QueueDelivery, group: string): boolean {
  const target = d.headers[REDRIVE_GROUP_HEADER];
  return target !== undefined && target !== group;
}

function prefix(topic: string, group: string): string {
  return `queue-dlq/${encodeURIComponent(topic)}/${encodeURIComponent(group)}/`;
}

function parse(raw: Uint8Array): QueueDeadLetter {
  const s = JSON.parse(decoder.decode(raw)) as StoredDeadLetter;
  return { ...s, payload: new Uint8Array(Buffer.from(s.payload, "base64")) };
}
