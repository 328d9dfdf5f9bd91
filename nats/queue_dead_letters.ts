import type { JetStreamManager, MsgHdrs, NatsConnection, StoredMsg } from "nats";
import { Code, invalidArgument, REDRIVE_GROUP_HEADER, type QueueDeadLetter, type QueueDeadLetterPage, type QueueDelivery } from "@prism/sdk";
import type { NatsConnector } from "./connection";
import { toPrismError } from "./errors";
import { DEAD_LETTER_HEADERS as DL, KEY_HEADER, metadataOf, toHeaders } from "./headers";
import type { NatsQueue } from "./queue";
import { groupConsumerName } from "./queue_tokens";
import type { Subjects } from "./subjects";

/** JetStream's "no message found" (a direct get past the last message of the subject). */
const NO_MESSAGE = 10037;

/**
 * Dead letters of queue topics in JetStream, which has no dead-letter queue of its own: a second stream per
 * topic (`<ns>_D<topic>`), one subject per group, each dead letter a message carrying the original payload,
 * key and headers plus its own fields (Prism-DL-*). Storing one is idempotent per group and message (Nats-Msg-Id
 * within the duplicate window) and is followed by an ack of the delivery; listing reads the group's subject by
 * sequence (the cursor); a redrive republishes the message to the topic for that group alone (the SDK skips it in
 * the others, REDRIVE_GROUP_HEADER) and deletes the dead letter. Like the topic, it survives pattern restarts.
 */
export class NatsDeadLetters {
  constructor(
    private readonly conn: NatsConnector,
    private readonly subjects: Subjects,
    private readonly queue: NatsQueue,
    private readonly requestTimeout: number,
  ) {}

  async deadLetter(topic: string, group: string, d: QueueDelivery, lastError: string): Promise<void> {
    const nc = this.conn.current();
    const { [REDRIVE_GROUP_HEADER]: _, ...user } = d.headers;
    const headers = toHeaders(user, {
      ...(d.key ? { [KEY_HEADER]: d.key } : {}),
      [DL.id]: d.messageId,
      [DL.attempts]: String(Math.max(0, d.attempt - 1)),
      [DL.error]: encodeURIComponent(lastError),
      [DL.published]: String(d.publishedAt),
      [DL.at]: String(Date.now()),
    });
    try {
      const { subject } = await this.stream(nc, topic, group);
      await nc.jetstream({ timeout: this.requestTimeout }).publish(subject, d.payload, { headers, msgID: `${groupConsumerName(group)}:${d.messageId}` });
    } catch (err) {
      throw toPrismError(err, "dead letter");
    }
    await this.queue.ack(topic, group, [d.token]);
  }

  async list(topic: string, group: string, limit: number, cursor: string): Promise<QueueDeadLetterPage> {
    let seq = 1;
    if (cursor !== "") {
      seq = Number(cursor);
      if (!Number.isSafeInteger(seq) || seq < 1) throw invalidArgument(`cursor "${cursor}" is not one this backend gave`);
    }
    const nc = this.conn.current();
    try {
      const { name, subject, jsm } = await this.stream(nc, topic, group);
      const entries: QueueDeadLetter[] = [];
      for (;;) {
        const m = await next(jsm, name, subject, seq);
        if (!m) return { entries, nextCursor: "" };
        if (entries.length === limit) return { entries, nextCursor: String(seq) };
        entries.push(toDeadLetter(m));
        seq = m.seq + 1;
      }
    } catch (err) {
      throw toPrismError(err, "dead letters");
    }
  }

  async redrive(topic: string, group: string, messageIds: string[]): Promise<number> {
    const wanted = new Set(messageIds);
    const nc = this.conn.current();
    let n = 0;
    try {
      const { name, subject, jsm } = await this.stream(nc, topic, group);
      for (let seq = 1; ; ) {
        const m = await next(jsm, name, subject, seq);
        if (!m) return n;
        seq = m.seq + 1;
        const dl = toDeadLetter(m);
        if (wanted.size > 0 && !wanted.has(dl.messageId)) continue;
        await this.queue.publish(topic, [
          {
            key: dl.key,
            payload: dl.payload,
            headers: { ...dl.headers, [REDRIVE_GROUP_HEADER]: group },
            // A redrive repeated after a failure between the publish and the delete stores the message once.
            idempotencyKey: `redrive:${groupConsumerName(group)}:${m.seq}`,
          },
        ]);
        await jsm.streams.deleteMessage(name, m.seq, false);
        n++;
      }
    } catch (err) {
      throw toPrismError(err, "redrive");
    }
  }

  async count(topic: string, group: string): Promise<number> {
    const nc = this.conn.current();
    try {
      const { name, subject, jsm } = await this.stream(nc, topic, group);
      const info = await jsm.streams.info(name, { subjects_filter: subject });
      return info.state.subjects?.[subject] ?? 0;
    } catch (err) {
      throw toPrismError(err, "dead letter count");
    }
  }

  private stream(nc: NatsConnection, topic: string, group: string) {
    return this.queue
      .ensureStreamNamed(nc, this.subjects.deadLetterStreamName(topic), this.subjects.deadLetterSubject(topic, "*"))
      .then((s) => ({ ...s, subject: this.subjects.deadLetterSubject(topic, groupConsumerName(group)) }));
  }
}

/** The group's first dead letter at or after `seq`; undefined when there is none. */
async function next(jsm: JetStreamManager, stream: string, subject: string, seq: number): Promise<StoredMsg | undefined> {
  try {
    // The server takes next_by_subj with seq (the next message of the subject from seq on); nats.js 2.29 types
    // list it for direct gets only.
    return await jsm.streams.getMessage(stream, { next_by_subj: subject, seq } as unknown as { seq: number });
  } catch (err) {
    const e = err as { api_error?: { err_code?: number } };
    if (e.api_error?.err_code === NO_MESSAGE || toPrismError(err, "").code === Code.NOT_FOUND) return undefined;
    throw err;
  }
}

function toDeadLetter(m: StoredMsg): QueueDeadLetter {
  const h: MsgHdrs | undefined = m.header;
  const num = (k: string) => Number(h?.get(k) ?? 0) || 0;
  let lastError = h?.get(DL.error) ?? "";
  try {
    lastError = decodeURIComponent(lastError);
  } catch {
    // Written by something else: shown as stored.
  }
  return {
    messageId: h?.get(DL.id) ?? String(m.seq),
    key: h?.get(KEY_HEADER) ?? "",
    payload: m.data,
    headers: metadataOf(h),
    publishedAt: num(DL.published),
    attempts: num(DL.attempts),
    lastError,
    deadLetteredAt: num(DL.at),
  };
}
