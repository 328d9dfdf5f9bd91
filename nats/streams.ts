import { AckPolicy, type ConsumerInfo, DeliverPolicy, nanos, type JetStreamManager, type JsMsg, type NatsConnection } from "nats";
import { invalidArgument, unavailable, type StreamReadOptions, type StreamRecordData } from "@prism/sdk";
import type { NatsConfig } from "./config";
import type { NatsConnector } from "./connection";
import { toPrismError } from "./errors";
import { ensureLimitsStream } from "./jetstream_stream";
import { KEY_HEADER, metadataOf, toHeaders } from "./headers";
import type { Subjects } from "./subjects";

/** Records one fetch asks for at most. */
const MAX_BATCH = 1_000;
/** A non-following read fails at this many empty fetches in a row (2 s each) while records are still to come. */
const MAX_EMPTY_FETCHES = 3;

/** A Prism stream read back: JetStream's sequence is the offset, and there is one partition, 0. */
function toRecord(stream: string, m: JsMsg): StreamRecordData {
  return {
    stream,
    partition: 0,
    offset: m.seq,
    payload: m.data,
    metadata: metadataOf(m.headers),
    key: m.headers?.get(KEY_HEADER) ?? "",
    timestamp: Math.floor(m.info.timestampNanos / 1e6),
  };
}

/**
 * Streams on JetStream: one JetStream stream per Prism stream (created on first use with the configured
 * storage, replicas and limits), Append = publish with the server's acknowledgement (sequence = offset),
 * Read = an ephemeral pull consumer from a sequence or a time, Trim = purge below a sequence.
 *
 * Reads pull at most `fetch_bytes` of records at a time and pull again only once the gRPC stream has taken
 * them all, so a slow reader holds at most one batch in memory and never loses records.
 */
export class NatsStreams {
  private readonly known = new Set<string>();
  private jsmFor: { nc: NatsConnection; jsm: Promise<JetStreamManager> } | undefined;

  constructor(
    private readonly conn: NatsConnector,
    private readonly subjects: Subjects,
    private readonly cfg: NatsConfig,
  ) {}

  private manager(nc: NatsConnection): Promise<JetStreamManager> {
    if (this.jsmFor?.nc !== nc) {
      const jsm = nc.jetstreamManager({ timeout: this.cfg.request_timeout });
      jsm.catch(() => (this.jsmFor = undefined));
      this.jsmFor = { nc, jsm };
    }
    return this.jsmFor.jsm;
  }

  /** Creates the JetStream stream of a Prism stream if it does not exist yet. */
  private async ensure(nc: NatsConnection, stream: string): Promise<{ name: string; subject: string; jsm: JetStreamManager }> {
    const name = this.subjects.streamName(stream);
    const subject = this.subjects.streamSubject(stream);
    const jsm = await this.manager(nc);
    if (this.known.has(name)) return { name, subject, jsm };
    await ensureLimitsStream(jsm, this.cfg, name, subject);
    this.known.add(name);
    return { name, subject, jsm };
  }

  /** `msgId` (an idempotency key) makes JetStream store the record once within the stream's duplicate window. */
  async append(
    stream: string,
    payload: Uint8Array,
    metadata: Record<string, string>,
    key: string,
    msgId?: string,
  ): Promise<{ offset: number; partition: number; timestamp: number }> {
    const nc = this.conn.current();
    const headers = toHeaders(metadata, key ? { [KEY_HEADER]: key } : {});
    try {
      const { subject } = await this.ensure(nc, stream);
      const ack = await nc.jetstream({ timeout: this.cfg.request_timeout }).publish(subject, payload, msgId ? { headers, msgID: msgId } : { headers });
      // The acknowledgement carries no time; the server stamped the record within this round trip.
      return { offset: ack.seq, partition: 0, timestamp: Date.now() };
    } catch (err) {
      throw toPrismError(err, "append");
    }
  }

  async *read(opts: StreamReadOptions): AsyncGenerator<StreamRecordData> {
    if (opts.partition !== 0) throw invalidArgument(`NATS streams have one partition, 0 (asked for ${opts.partition})`);
    const nc = this.conn.current();
    let name: string;
    let jsm: JetStreamManager;
    let consumerName: string;
    let pending: number;
    // Without follow the read ends at the stream's last sequence when the call arrived, whatever is appended
    // or trimmed meanwhile.
    let endSeq = Infinity;
    /** An ephemeral consumer from `from` (a sequence), or from the read's own start when nothing was read yet. */
    const addConsumer = (from: number | undefined) =>
      jsm.consumers.add(name, {
        ...(from !== undefined
          ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: from }
          : opts.fromTimestamp > 0
            ? { deliver_policy: DeliverPolicy.StartTime, opt_start_time: new Date(opts.fromTimestamp).toISOString() }
            : { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: Math.max(1, opts.fromOffset) }),
        ack_policy: AckPolicy.None,
        mem_storage: true,
        num_replicas: 1,
        inactive_threshold: nanos(Math.max(30_000, this.cfg.request_timeout * 5)),
      });
    try {
      ({ name, jsm } = await this.ensure(nc, opts.stream));
      if (!opts.follow) endSeq = (await jsm.streams.info(name)).state.last_seq;
      const ci = await addConsumer(undefined);
      consumerName = ci.name;
      pending = ci.num_pending;
    } catch (err) {
      throw toPrismError(err, "read");
    }
    if (!opts.follow && (pending === 0 || (opts.fromTimestamp <= 0 && opts.fromOffset > endSeq))) {
      void jsm.consumers.delete(name, consumerName).catch(() => undefined);
      return;
    }
    const reconnectsAtStart = this.conn.reconnects;
    // A pull whose connection is lost would otherwise sit until it expires: stop it at once.
    let current: { stop(): void } | undefined;
    const stopOnDisconnect = this.conn.onDisconnect(() => current?.stop());
    let delivered = 0;
    /** Delivered by the current consumer (a read that lost records to an expired pull goes on with a new one). */
    let deliveredHere = 0;
    let lastDelivery = 0;
    let resumeFrom = opts.fromOffset;
    /** Bytes of the largest record seen (plus headers' allowance); sizes the next fetch. */
    let largest = 4096;
    /** Fetches in a row that brought nothing although the consumer had records pending. */
    let emptyFetches = 0;
    try {
      const js = nc.jetstream({ timeout: this.cfg.request_timeout });
      let consumer = await js.consumers.get(name, consumerName);
      const maxBytes = Math.max(this.cfg.jetstream.fetch_bytes, (nc.info?.max_payload ?? 1 << 20) + 65_536);
      while (!opts.signal.aborted) {
        // A fetch by count ends as soon as it has its count; one by bytes (or for more than is left) waits out its
        // expiry, which made a non-following Read pay 2 s per fetch. So: ask for what is left, at most as many
        // records as fit in fetch_bytes judging by the largest record seen so far (memory stays about fetch_bytes).
        let want = Math.max(1, Math.min(MAX_BATCH, Math.floor(maxBytes / largest)));
        if (!opts.follow) want = Math.min(want, Math.max(1, pending - deliveredHere));
        if (opts.maxRecords > 0) want = Math.min(want, opts.maxRecords - delivered);
        const batch = await consumer.fetch({ max_messages: want, expires: opts.follow ? 5_000 : 2_000 });
        current = batch;
        if (this.conn.state !== "connected") batch.stop();
        let received = 0;
        for await (const m of batch) {
          received++;
          if (m.seq > endSeq) return;
          // With no acks a record sent while the connection was down is gone: end rather than skip it.
          if (m.info.deliverySequence !== lastDelivery + 1 || this.conn.reconnects !== reconnectsAtStart) {
            throw unavailable(`nats connection was lost during the read; resume from offset ${resumeFrom}`);
          }
          lastDelivery = m.info.deliverySequence;
          largest = Math.max(largest, m.data.byteLength + 256);
          yield toRecord(opts.stream, m);
          resumeFrom = m.seq + 1;
          delivered++;
          deliveredHere++;
          if (opts.maxRecords > 0 && delivered >= opts.maxRecords) return;
          if (m.seq >= endSeq) return;
        }
        if (this.conn.state !== "connected" || this.conn.reconnects !== reconnectsAtStart) {
          throw unavailable(`nats connection was lost during the read; resume from offset ${resumeFrom}`);
        }
        if (!opts.follow && received === 0) {
          // Nothing within a fetch's expiry: either what is left up to endSeq was trimmed away, or the server was
          // slow (hung, its disk full). Only the consumer's own counts tell them apart; ending on a slow server
          // would cut the read short without a word (CDC's look at its sink's tail then appended changes twice).
          const ci = await this.consumerInfo(jsm, name, consumerName, resumeFrom);
          const lostToExpiredPull = ci.delivered.consumer_seq > lastDelivery;
          if (!lostToExpiredPull && ci.num_pending === 0) return;
          if (++emptyFetches >= MAX_EMPTY_FETCHES)
            throw unavailable(`nats delivered none of the records left to read in ${MAX_EMPTY_FETCHES} fetches; resume from offset ${resumeFrom}`);
          if (lostToExpiredPull) {
            // A server that was slow served the pull after this client had given it up: those records went to an
            // inbox no one reads, and without acks they are not sent again. Go on from the next record unread.
            void jsm.consumers.delete(name, consumerName).catch(() => undefined);
            const next = await addConsumer(delivered > 0 ? resumeFrom : undefined);
            consumerName = next.name;
            pending = next.num_pending;
            consumer = await js.consumers.get(name, consumerName);
            deliveredHere = 0;
            lastDelivery = 0;
          }
        } else emptyFetches = 0;
      }
    } catch (err) {
      throw toPrismError(err, "read");
    } finally {
      stopOnDisconnect();
      void jsm.consumers.delete(name, consumerName).catch(() => undefined);
    }
  }

  /** The read's consumer as the server has it; UNAVAILABLE (naming where to resume) when the server does not say. */
  private async consumerInfo(jsm: JetStreamManager, stream: string, consumer: string, resumeFrom: number): Promise<ConsumerInfo> {
    try {
      return await jsm.consumers.info(stream, consumer);
    } catch (err) {
      throw unavailable(`nats did not answer during the read (${(err as Error).message}); resume from offset ${resumeFrom}`);
    }
  }

  /** Purges records below `beforeOffset` (clamped to the end) and returns the first sequence still stored. */
  async trim(stream: string, partition: number, beforeOffset: number): Promise<number> {
    if (partition !== 0) throw invalidArgument(`NATS streams have one partition, 0 (asked for ${partition})`);
    const nc = this.conn.current();
    try {
      const { name, jsm } = await this.ensure(nc, stream);
      const before = await jsm.streams.info(name);
      const target = Math.min(beforeOffset, before.state.last_seq + 1);
      if (target > before.state.first_seq) await jsm.streams.purge(name, { seq: target });
      const after = await jsm.streams.info(name);
      return after.state.first_seq;
    } catch (err) {
      throw toPrismError(err, "trim");
    }
  }
}
