import { createHash } from "node:crypto";
import { headers, StorageType, type JetStreamManager, type KV, type NatsConnection } from "nats";
import {
  versionMismatch,
  invalidArgument,
  unimplemented,
  type WriteOptions,
  type KeyValueVersionedDriver,
  type VersionedValue,
  type KeyListingDriver,
  type KeyValueBasicDriver,
  type Logger,
} from "@prism/sdk";
import type { NatsConfig, NatsKvConfig } from "./config";
import type { NatsConnector } from "./connection";
import { toPrismError } from "./errors";
import { encodeToken, KvKeys } from "./kv_keys";

/**
 * Longest NATS key (namespace token + encoded key) accepted: the key becomes part of the subject `$KV.<bucket>.<key>`
 * of a protocol line, which the server bounds by max_control_line (4096 bytes by default).
 */
export const MAX_NATS_KEY = 3000;

const EMPTY = new Uint8Array(0);

/**
 * Key-value on a JetStream KV bucket (history 1): get, put and delete are native, and the namespace's keys can be
 * listed (KeyListingDriver). There is no native scan, batch or per-key expiry (the bucket's max_age applies to
 * every key alike): the SDK's emulation layer builds those over this; a Set with a TTL reaching the driver itself
 * is refused UNIMPLEMENTED. A keyed write (x-prism-idempotency-key) is published with a Nats-Msg-Id derived from
 * the operation, the key and the idempotency key: JetStream stores it once within the bucket stream's duplicate
 * window (2 minutes, the server's default; a bucket max_age below that shortens it), after a pattern restart too.
 */
export class NatsKeyValue implements KeyValueBasicDriver, KeyListingDriver, KeyValueVersionedDriver {
  readonly keys: KvKeys;
  private bucketFor: { nc: NatsConnection; kv: Promise<KV> } | undefined;
  private managerFor: { nc: NatsConnection; jsm: Promise<JetStreamManager> } | undefined;

  constructor(
    private readonly conn: NatsConnector,
    private readonly cfg: NatsConfig,
    private readonly kvCfg: NatsKvConfig,
    namespace: string,
    private readonly logger: Logger,
  ) {
    this.keys = new KvKeys(namespace);
  }

  get bucket(): string {
    return this.kvCfg.bucket;
  }

  /** The bucket, created (history 1) when missing and bound once per connection. */
  private bucketOf(nc: NatsConnection): Promise<KV> {
    if (this.bucketFor?.nc !== nc) {
      const kv = this.open(nc);
      kv.catch(() => (this.bucketFor = undefined));
      this.bucketFor = { nc, kv };
    }
    return this.bucketFor.kv;
  }

  private async open(nc: NatsConnection): Promise<KV> {
    const k = this.kvCfg;
    const js = nc.jetstream({ timeout: this.cfg.request_timeout });
    const opts = {
      history: 1,
      replicas: k.replicas,
      storage: k.storage === "memory" ? StorageType.Memory : StorageType.File,
      timeout: this.cfg.request_timeout,
      ...(k.max_age > 0 ? { ttl: k.max_age } : {}),
      ...(k.max_bytes > 0 ? { max_bytes: k.max_bytes } : {}),
      ...(k.max_value_size > 0 ? { maxValueSize: k.max_value_size } : {}),
    };
    try {
      return await js.views.kv(k.bucket, opts);
    } catch (err) {
      // A bucket made earlier with other settings: use it as it is rather than refuse to serve.
      if (!/already in use|different configuration/i.test((err as Error).message)) throw err;
      this.logger.warn("nats kv bucket exists with other settings; using it as it is", { bucket: k.bucket, error: (err as Error).message });
      return js.views.kv(k.bucket, { bindOnly: true, timeout: this.cfg.request_timeout });
    }
  }

  private manager(nc: NatsConnection): Promise<JetStreamManager> {
    if (this.managerFor?.nc !== nc) {
      const jsm = nc.jetstreamManager({ timeout: this.cfg.request_timeout });
      jsm.catch(() => (this.managerFor = undefined));
      this.managerFor = { nc, jsm };
    }
    return this.managerFor.jsm;
  }

  private get stream(): string {
    return `KV_${this.kvCfg.bucket}`;
  }

  private subject(natsKey: string): string {
    return `$KV.${this.kvCfg.bucket}.${natsKey}`;
  }

  /** Resolves once the bucket is usable (tests and start-up). */
  async ready(): Promise<void> {
    await this.bucketOf(await this.conn.ready);
  }

  private natsKey(key: string): string {
    const k = this.keys.natsKey(key);
    if (k.length > MAX_NATS_KEY) {
      throw invalidArgument(`key is ${k.length} characters once encoded for NATS KV (namespace + escaped bytes), over the limit of ${MAX_NATS_KEY}`);
    }
    return k;
  }

  private async call<T>(what: string, fn: (kv: KV) => Promise<T>): Promise<T> {
    try {
      return await fn(await this.bucketOf(this.conn.current()));
    } catch (err) {
      throw toPrismError(err, `kv ${what}`);
    }
  }

  async set(key: string, value: Uint8Array, ttlSeconds: number, write?: WriteOptions): Promise<void> {
    if (ttlSeconds > 0) {
      throw unimplemented(`expiration not supported by nats kv: NATS ${"2.9"} buckets expire only as a whole (max_age), not per key`);
    }
    const k = this.natsKey(key);
    if (write?.idempotencyKey) {
      const msgID = this.msgId("set", k, write.idempotencyKey);
      await this.call("put", () => this.jetstream().publish(this.subject(k), value, { msgID }));
      return;
    }
    await this.call("put", (kv) => kv.put(k, value));
  }

  private jetstream() {
    return this.conn.current().jetstream({ timeout: this.cfg.request_timeout });
  }

  /** The Nats-Msg-Id of a keyed write: unique per bucket stream (namespace, operation, key, idempotency key). */
  private msgId(op: string, natsKey: string, idempotencyKey: string): string {
    return `prism-${createHash("sha256").update(`${op}\0${natsKey}\0${idempotencyKey}`).digest("base64url")}`;
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    const k = this.natsKey(key);
    const e = await this.call("get", (kv) => kv.get(k));
    return e?.operation === "PUT" ? e.value : undefined;
  }

  /** The version is the key's revision: the stream sequence of its last write. */
  async getVersioned(key: string): Promise<VersionedValue | undefined> {
    const k = this.natsKey(key);
    const e = await this.call("get", (kv) => kv.get(k));
    return e?.operation === "PUT" ? { value: e.value, version: String(e.revision) } : undefined;
  }

  /**
   * Compare-and-set by JetStream itself (Nats-Expected-Last-Subject-Sequence), so a keyed retry is recognised as
   * a duplicate before the sequence is checked. "Must not exist" expects sequence 0, or the sequence of a delete
   * marker left behind.
   */
  async setVersioned(key: string, value: Uint8Array, ttlSeconds: number, expected: string | undefined, write?: WriteOptions): Promise<string> {
    if (ttlSeconds > 0) {
      throw unimplemented(`expiration not supported by nats kv: NATS ${"2.9"} buckets expire only as a whole (max_age), not per key`);
    }
    const k = this.natsKey(key);
    const msgID = write?.idempotencyKey ? this.msgId("set", k, write.idempotencyKey) : undefined;
    return this.call("put", async (kv) => {
      const publish = (last: string | undefined) => {
        const h = headers();
        if (last !== undefined) h.set("Nats-Expected-Last-Subject-Sequence", last);
        return this.jetstream().publish(this.subject(k), value, msgID ? { headers: h, msgID } : { headers: h });
      };
      if (expected !== undefined && !/^\d*$/.test(expected)) throw versionMismatch(key, expected, await this.current(kv, k));
      try {
        return String((await publish(expected === "" ? "0" : expected)).seq);
      } catch (err) {
        if (!wrongSequence(err)) throw err;
      }
      const e = await kv.get(k);
      if (expected === "" && e !== null && e.operation !== "PUT") {
        try {
          return String((await publish(String(e.revision))).seq);
        } catch (err) {
          if (!wrongSequence(err)) throw err;
        }
      }
      throw versionMismatch(key, expected!, await this.current(kv, k));
    });
  }

  /** A conditional delete publishes its delete marker expecting the version, then purges up to the marker only. */
  async deleteVersioned(key: string, expected: string | undefined, write?: WriteOptions): Promise<boolean> {
    if (expected === undefined) return this.delete(key, write);
    const k = this.natsKey(key);
    return this.call("delete", async (kv) => {
      if (expected === "" || !/^\d+$/.test(expected)) {
        const current = await this.current(kv, k);
        if (current !== undefined || expected !== "") throw versionMismatch(key, expected, current);
        return false;
      }
      const h = headers();
      h.set("KV-Operation", "DEL");
      h.set("Nats-Expected-Last-Subject-Sequence", expected);
      const msgID = write?.idempotencyKey ? this.msgId("delete", k, write.idempotencyKey) : undefined;
      let ack: { seq: number; duplicate: boolean };
      try {
        ack = await this.jetstream().publish(this.subject(k), EMPTY, msgID ? { headers: h, msgID } : { headers: h });
      } catch (err) {
        if (!wrongSequence(err)) throw err;
        throw versionMismatch(key, expected, await this.current(kv, k));
      }
      if (ack.duplicate) return false;
      const jsm = await this.manager(this.conn.current());
      await jsm.streams.purge(this.stream, { filter: this.subject(k), seq: ack.seq + 1 });
      return true;
    });
  }

  private async current(kv: KV, natsKey: string): Promise<string | undefined> {
    const e = await kv.get(natsKey);
    return e?.operation === "PUT" ? String(e.revision) : undefined;
  }

  async exists(key: string): Promise<boolean> {
    return (await this.get(key)) !== undefined;
  }

  /**
   * True when the key existed (read first: NATS does not say). The key's subject is purged from the bucket's
   * stream rather than given a delete marker, so the stream's subjects are exactly the live keys (listKeys).
   * A keyed delete first publishes a delete marker carrying its Nats-Msg-Id: a retry JetStream reports as a
   * duplicate deletes nothing (and answers false: this call removed nothing), so a value written after the first
   * attempt survives. Should the pattern die between marker and purge, the marker alone reads as deleted.
   */
  async delete(key: string, write?: WriteOptions): Promise<boolean> {
    const k = this.natsKey(key);
    return this.call("delete", async (kv) => {
      const e = await kv.get(k);
      const found = e?.operation === "PUT";
      if (write?.idempotencyKey) {
        const h = headers();
        h.set("KV-Operation", "DEL");
        const ack = await this.jetstream().publish(this.subject(k), EMPTY, { msgID: this.msgId("delete", k, write.idempotencyKey), headers: h });
        if (ack.duplicate) return false;
      } else if (!found) return false;
      const jsm = await this.manager(this.conn.current());
      await jsm.streams.purge(this.stream, { filter: this.subject(k) });
      return found;
    });
  }

  /**
   * The namespace's keys starting with prefix: the subjects of the bucket's stream under the namespace (stream info
   * with a subject filter, paged by nats.js), filtered on the encoding, which keeps prefixes. (nats.js's kv.keys()
   * ends early on nats-server 2.9, whose consumer pending counts are off for last-per-subject delivery.)
   */
  async *listKeys(prefix: string, signal: AbortSignal): AsyncIterable<string> {
    const head = `${this.keys.namespaceToken}.${encodeToken(prefix)}`;
    const cut = `$KV.${this.kvCfg.bucket}.`.length;
    const subjects = await this.call("keys", async () => {
      const jsm = await this.manager(this.conn.current());
      const info = await jsm.streams.info(this.stream, { subjects_filter: this.subject(this.keys.filter) });
      return Object.keys(info.state.subjects ?? {});
    });
    for (const subject of subjects) {
      signal.throwIfAborted();
      const natsKey = subject.slice(cut);
      if (!natsKey.startsWith(head)) continue;
      const key = this.keys.prismKey(natsKey);
      if (key !== undefined) yield key;
    }
  }
}

/** JetStream's answer to a write whose Nats-Expected-Last-Subject-Sequence did not hold (err_code 10071). */
function wrongSequence(err: unknown): boolean {
  const e = err as { api_error?: { err_code?: number }; message?: string };
  return e?.api_error?.err_code === 10071 || /wrong last sequence/i.test(e?.message ?? "");
}
