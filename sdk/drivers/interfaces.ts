/**
 * Backend driver interfaces. A pattern's driver implements some of them; the SDK
 * turns each into the matching gRPC service. Methods may answer synchronously
 * (the in-memory store) or with a promise (network backends).
 */
import type { WriteOptions } from "./idempotency";
export type MaybePromise<T> = T | Promise<T>;

export type HealthState = "healthy" | "degraded" | "unhealthy";

export interface HealthReport {
  status: HealthState;
  message?: string;
  /** Debug information, e.g. keys and max_keys for the in-memory store. */
  details?: Record<string, string>;
}

/** What every driver has besides its data interfaces. */
export interface Driver {
  readonly name: string;
  readonly version: string;
  health(): MaybePromise<HealthReport>;
  /** Attributes added to every backend-call span, e.g. server.address, server.port, db.namespace. */
  readonly spanAttributes?: Readonly<Record<string, string | number>>;
  /** State of the circuit breaker guarding the backend, exported as circuit_breaker_state. */
  circuitState?(): "closed" | "half-open" | "open";
  /** Open connections to the backend, exported as backend_driver_connections_active. */
  connectionsActive?(): number;
  /** Keys expired so far (a running total), exported as the counter backend_driver_expired_keys_total. */
  expiredTotal?(): number;
  /** Releases connections and timers; called once on stop. */
  close(): Promise<void>;
  /**
   * Interfaces this driver implements itself although its backend has no native form of them
   * (e.g. expiry kept in a column and filtered on read): capabilities report them EMULATED.
   */
  readonly emulates?: readonly InterfaceName[];
  /**
   * Set (to why, e.g. "configure kv.bucket") when this driver, as configured, serves no key-value although its
   * class has the methods: the SDK then reports no key-value capabilities and answers every key-value call
   * UNIMPLEMENTED "key-value not supported by <name>: <why>" without calling the driver.
   */
  readonly keyValueUnavailable?: string;
  /**
   * How this driver honours `write` (x-prism-idempotency-key) on every key-value write method (set, delete,
   * expire, persist, batchSet, batchDelete): "durable" = the dedupe record is kept in the backend and survives a
   * restart of the pattern; "in-process" = kept in this process only. Absent: the SDK refuses keyed key-value
   * writes with UNIMPLEMENTED rather than apply them without deduplication.
   */
  readonly idempotentKeyValue?: "durable" | "in-process";
  /**
   * True when the driver stores tags with a value: given to setVersioned and in batchSet entries, returned by
   * getVersioned and by scan with values; any plain write of the value drops them. Otherwise tags are refused.
   */
  readonly storesTags?: boolean;
}

/**
 * Key-value writes take an optional `write` (WriteOptions): with an idempotency key, a retry of the same write
 * within the window is applied at most once and answers like the first. A driver scopes the key by the operation
 * and the data key (a batch: by the batch), and declares how in `Driver.idempotentKeyValue`.
 */
export interface KeyValueBasicDriver {
  /** ttlSeconds 0 = no expiry. Overwrites value and TTL. */
  set(key: string, value: Uint8Array, ttlSeconds: number, write?: WriteOptions): MaybePromise<void>;
  get(key: string): MaybePromise<Uint8Array | undefined>;
  /** True when the key existed. */
  delete(key: string, write?: WriteOptions): MaybePromise<boolean>;
  exists(key: string): MaybePromise<boolean>;
}

export interface KeyValueTTLDriver {
  /** False when the key does not exist. ttlSeconds <= 0 deletes the key, as Redis does. */
  expire(key: string, ttlSeconds: number, write?: WriteOptions): MaybePromise<boolean>;
  /** Remaining seconds; -1 no expiry; -2 no such key. */
  getTTL(key: string): MaybePromise<number>;
  /** True when an expiry was removed. */
  persist(key: string, write?: WriteOptions): MaybePromise<boolean>;
}

export interface ScanEntry {
  key: string;
  value?: Uint8Array;
  /** With values, from a driver that stores tags: the value's tags (absent = none). */
  tags?: Record<string, string>;
  /** Set on the last entry of a page cut by limit when more entries remain. */
  nextCursor?: string;
}

export interface ScanOptions {
  prefix: string;
  /** 0 = no limit. */
  limit: number;
  /** "" = from the beginning. */
  cursor: string;
  withValues: boolean;
  signal: AbortSignal;
}

export interface KeyValueScanDriver {
  scan(opts: ScanOptions): AsyncIterable<ScanEntry> | Iterable<ScanEntry>;
  count(prefix: string): MaybePromise<number>;
}

/** A backend that can only list its keys (NATS KV): the SDK emulates scan and expiry sweeps over it. */
export interface KeyListingDriver {
  /** Every live key starting with prefix, in no particular order; stops early when signal aborts. */
  listKeys(prefix: string, signal: AbortSignal): AsyncIterable<string> | Iterable<string>;
}

export interface BatchSetEntry {
  key: string;
  value: Uint8Array;
  ttlSeconds: number;
  /** Only for a driver that stores tags. */
  tags?: Record<string, string>;
}

export interface KeyValueBatchDriver {
  /** With `write`, the batch as a whole is applied once per idempotency key. */
  batchSet(entries: BatchSetEntry[], write?: WriteOptions): MaybePromise<void>;
  /** One result per key, undefined where missing. */
  batchGet(keys: string[]): MaybePromise<(Uint8Array | undefined)[]>;
  /** One result per key: did it exist. */
  batchDelete(keys: string[], write?: WriteOptions): MaybePromise<boolean[]>;
}

export interface ListDriver {
  /** Returns the length after the push. */
  pushLeft(key: string, values: Uint8Array[]): MaybePromise<number>;
  pushRight(key: string, values: Uint8Array[]): MaybePromise<number>;
  popLeft(key: string, count: number): MaybePromise<Uint8Array[]>;
  popRight(key: string, count: number): MaybePromise<Uint8Array[]>;
  length(key: string): MaybePromise<number>;
  /** Inclusive, negative indexes from the tail (Redis LRANGE). */
  range(key: string, start: number, stop: number): MaybePromise<Uint8Array[]>;
}

export interface PubSubMessage {
  topic: string;
  payload: Uint8Array;
  metadata: Record<string, string>;
  messageId: string;
  /** Unix ms. */
  timestamp: number;
}

export interface SubscribeOptions {
  topic: string;
  /** Subscribers sharing an id share the messages (queue group / consumer group). */
  subscriberId: string;
  options: Record<string, string>;
  signal: AbortSignal;
}

export interface PubSubDriver {
  publish(topic: string, payload: Uint8Array, metadata: Record<string, string>, key: string, write?: WriteOptions): MaybePromise<{ messageId: string }>;
  /** Ends when signal aborts or unsubscribe is called. */
  subscribe(opts: SubscribeOptions): AsyncIterable<PubSubMessage>;
  /** True when a subscription was found and ended. */
  unsubscribe(topic: string, subscriberId: string): MaybePromise<boolean>;
}

export interface StreamRecordData {
  stream: string;
  partition: number;
  offset: number;
  payload: Uint8Array;
  metadata: Record<string, string>;
  key: string;
  timestamp: number;
}

export interface StreamReadOptions {
  stream: string;
  partition: number;
  fromOffset: number;
  /** Unix ms; 0 = use fromOffset. */
  fromTimestamp: number;
  /** 0 = no limit. */
  maxRecords: number;
  follow: boolean;
  signal: AbortSignal;
}

/** One record of a batch append. */
export interface StreamAppend {
  payload: Uint8Array;
  metadata: Record<string, string>;
  key: string;
  write?: WriteOptions;
}

/** Where an appended record was stored. */
export interface StreamPlace {
  offset: number;
  partition: number;
  timestamp: number;
}

export interface StreamDriver {
  append(
    stream: string,
    payload: Uint8Array,
    metadata: Record<string, string>,
    key: string,
    write?: WriteOptions,
  ): MaybePromise<{ offset: number; partition: number; timestamp: number }>;
  /**
   * Optional: appends `records` in one request where the backend has one (Kafka: one produce request of many
   * records). Resolves with each record's place, in order, once all are stored; rejects when any was not (some
   * may have been stored). Records of one key are stored in the order given. Callers use appendBatch() of
   * sdk/drivers/stream_batch.ts, which emulates it for drivers without one.
   */
  appendBatch?(stream: string, records: readonly StreamAppend[]): Promise<StreamPlace[]>;
  read(opts: StreamReadOptions): AsyncIterable<StreamRecordData>;
  /** Deletes records before beforeOffset; returns the lowest offset still readable. */
  trim(stream: string, partition: number, beforeOffset: number): MaybePromise<number>;
}

/** Interface names as slots name them in configuration (contract §4). */
export type InterfaceName =
  | "keyvalue_basic"
  | "keyvalue_ttl"
  | "keyvalue_scan"
  | "keyvalue_batch"
  | "list_basic"
  | "pubsub_basic"
  | "stream_basic"
  /** QueueDriver (sdk/drivers/queue.ts): at-least-once queues with consumer groups, for the queue pattern. */
  | "queue";

/** The gRPC service each interface is served as, as capabilities name it in a slot's bindings. */
export const INTERFACE_SERVICE: Readonly<Record<InterfaceName, string>> = {
  keyvalue_basic: "prism.interfaces.keyvalue.KeyValueBasicInterface",
  keyvalue_ttl: "prism.interfaces.keyvalue.KeyValueTTLInterface",
  keyvalue_scan: "prism.interfaces.keyvalue.KeyValueScanInterface",
  keyvalue_batch: "prism.interfaces.keyvalue.KeyValueBatchInterface",
  list_basic: "prism.interfaces.list.ListBasicInterface",
  pubsub_basic: "prism.interfaces.pubsub.PubSubBasicInterface",
  stream_basic: "prism.interfaces.stream.StreamBasicInterface",
  // No interface service of its own: the queue pattern serves it as ConsumerPattern (and ProducerPattern).
  queue: "prism.patterns.consumer.ConsumerPattern",
};

/** A JSON scalar, the only kind of value a filter condition compares with. */
export type JsonScalar = string | number | boolean | null;

export type JsonFilterOp = "eq" | "ne" | "in" | "exists" | "prefix" | "wildcard" | "lt" | "lte" | "gt" | "gte";

/** A parsed wildcard pattern: literal characters, 1 for `?` (one character), 2 for `*` (any run). */
export type GlobToken = string | 1 | 2;

/**
 * A condition tree over JSON documents, evaluated the same way by every driver that offers it and by the
 * reference evaluator (sdk/drivers/json_filter.ts matchesJsonFilter). `path` is object keys from the document's
 * root, outermost first; a step into a non-object (lists included) finds nothing. eq/ne/in compare scalars exactly
 * (numbers by value); prefix/wildcard test strings only; lt/lte/gt/gte numbers only; `ne` also matches a missing value.
 */
export type JsonFilter =
  | { op: "and" | "or"; of: JsonFilter[] }
  | { op: "not"; of: JsonFilter }
  | { op: JsonFilterOp; path: string[]; value?: JsonScalar; values?: JsonScalar[]; glob?: GlobToken[] };

export interface JsonFilterScanOptions {
  /** Keys starting with this (within the driver's namespace). */
  prefix: string;
  /** Tested against each value parsed as JSON; undefined matches every JSON value. */
  filter: JsonFilter | undefined;
  /** "" = from the beginning, else the nextCursor of the previous page of the same prefix. */
  cursor: string;
  /** Bounds one call's work, in the backend's unit: Redis examines about this many keys, PostgreSQL returns at most this many entries. */
  count: number;
  signal: AbortSignal;
}

export interface JsonFilterScanPage {
  /** The matching entries of this step, possibly none although more follow. */
  entries: { key: string; value: Uint8Array }[];
  /** "" when the scan is complete. */
  nextCursor: string;
}

/**
 * A key-value backend that evaluates a JsonFilter itself (a Redis script, a PostgreSQL JSONB query), so only
 * matching values cross the network. Optional: a composed pattern detects it (offersJsonFilterScan) and filters
 * scanned values itself otherwise. Every value under the prefix should be a UTF-8 JSON document: Redis skips
 * one that is not, PostgreSQL fails the call.
 */
export interface JsonFilterScanDriver {
  filterScan(opts: JsonFilterScanOptions): Promise<JsonFilterScanPage>;
  /** Set (to why) when this driver, as configured, cannot (e.g. a Redis cluster): callers then filter themselves. */
  readonly jsonFilterUnavailable?: string;
}
