import { createHash } from "node:crypto";
import type { SQL } from "bun";
import {
  asBuffer,
  versionMismatch,
  Resilience,
  Code,
  PrismError,
  type BatchSetEntry,
  type Driver,
  type HealthReport,
  type InterfaceName,
  type JsonFilterScanDriver,
  type JsonFilterScanOptions,
  type KeyValueBasicDriver,
  type KeyValueBatchDriver,
  type KeyValueScanDriver,
  type KeyValueTTLDriver,
  type ScanEntry,
  type ScanOptions,
  type WriteOptions,
  type VersionedValue,
  type Logger,
  type QueueConsumeOptions,
  type QueueDriver,
  type QueuePublishMessage,
} from "@prism/sdk";
import { createPool, createProbeConnection, type PoolState } from "./client";
import type { PostgresConfig } from "./config";
import { clientTimeout, markNotApplied, postgresError, postgresNotApplied, serverSilent } from "./errors";
import { decodeCursor, encodeCursor, keyBytes, keyText, prefixEnd } from "./keys";
import { postgresFilterScan } from "./native_filter";
import { LivenessProbe } from "./probe";
import { PostgresQueue } from "./queue";
import { Statements } from "./statements";
import { ExpirySweeper } from "./sweeper";

export const DRIVER_VERSION = "0.1.0";

/** The client waits this much longer than statement_timeout before it gives up on an answer itself. */
const CLIENT_MARGIN_MS = 1000;
/** A health-check answer outstanding this long: its connection is replaced (a partition may never answer). */
const PROBE_RECYCLE_MS = 10_000;
/** Rows fetched per round trip when a scan has no limit. */
const UNLIMITED_SCAN_PAGE = 1000;

type Row = Record<string, unknown>;

/**
 * Key-value on PostgreSQL: one table (`table`, default prism_kv) shared by namespaces, a row per (namespace, key),
 * keys as bytea (byte order = code-point order), values as bytea. Basic, scan (keyset pages in key order) and batch
 * (one multi-row statement each) are native; expiry is not, so the driver emulates it with an expires_at column:
 * rows past it are invisible to every read at once and deleted in bounded batches by a sweeper. A keyed write
 * (x-prism-idempotency-key) runs in one transaction with its idempotency record (table `<table>_idempotency`), so
 * a retry — after a restart of the pattern too — gets the recorded result instead of writing again.
 */
export class PostgresDriver
  implements Driver, KeyValueBasicDriver, KeyValueTTLDriver, KeyValueScanDriver, KeyValueBatchDriver, JsonFilterScanDriver, QueueDriver
{
  readonly name = "postgres";
  readonly version = DRIVER_VERSION;
  readonly emulates: readonly InterfaceName[] = ["keyvalue_ttl"];
  readonly idempotentKeyValue = "durable";
  /** Tags live in a jsonb column beside the value. */
  readonly storesTags = true;
  readonly spanAttributes: Readonly<Record<string, string | number>>;
  readonly guard: Resilience;
  readonly target: string;
  readonly sql: SQL;
  private readonly pool: PoolState;
  private readonly q: Statements;
  private readonly ns: string;
  private readonly sweeper: ExpirySweeper;
  private readonly probe: LivenessProbe;
  private schema: Promise<void> | undefined;
  private readonly queue: PostgresQueue;
  readonly queueFeatures: PostgresQueue["queueFeatures"];

  constructor(
    readonly config: PostgresConfig,
    logger: Logger,
  ) {
    this.target = `${config.host.includes(":") ? `[${config.host}]` : config.host}:${config.port}/${config.database}`;
    const { sql, state } = createPool(config, logger);
    this.sql = sql;
    this.pool = state;
    this.q = new Statements(config.table);
    this.ns = config.namespace;
    this.spanAttributes = { "server.address": config.host, "server.port": config.port, "db.namespace": config.database, "db.collection.name": config.table };
    this.guard = new Resilience({
      name: `postgres ${this.target}`,
      mapError: (err) => postgresError(err, this.target),
      // The client-side bound is the driver's own (statement_timeout + 1 s, with the statement cancelled).
      notApplied: postgresNotApplied,
      failureThreshold: config.breaker.failureThreshold,
      openDurationMs: config.breaker.openDurationMs,
      maxAttempts: config.retry.maxAttempts,
      initialDelayMs: config.retry.initialDelayMs,
      maxDelayMs: config.retry.maxDelayMs,
      onStateChange: (from, to) => logger[to === "open" ? "warn" : "info"]("postgres circuit breaker", { from, to, target: this.target }),
    });
    this.probe = new LivenessProbe(
      () => createProbeConnection(config),
      { intervalMs: config.healthCheck.intervalMs, timeoutMs: config.healthCheck.timeoutMs, recycleAfterMs: PROBE_RECYCLE_MS },
      logger,
      this.target,
      // It answers again: the breaker need not wait out its open duration to let a call probe.
      () => this.guard.backendAnswered(),
    );
    this.queue = new PostgresQueue(
      {
        read: (text, params) => this.read(text, params),
        write: (text, params) => this.write(text, params),
        transaction: (fn) =>
          this.guard.write(async () => {
            if (this.probe.down) throw this.notAnswering();
            await this.ensureSchema().catch((err) => {
              throw markNotApplied(postgresError(err, this.target, false));
            });
            const tx = this.sql.begin((tx) => fn((text, params) => tx.unsafe(text, params) as unknown as Promise<Row[]>));
            return this.timed(tx, this.config.statementTimeoutMs + CLIENT_MARGIN_MS, true);
          }),
      },
      this.ns,
      config.table,
    );
    this.queueFeatures = this.queue.queueFeatures;
    this.sweeper = new ExpirySweeper({
      intervalMs: config.sweep.intervalMs,
      maxBatches: config.sweep.maxBatchesPerRun,
      batch: config.sweep.batch,
      sweepBatch: async (n) => {
        const swept = (await this.write(this.q.sweep, [this.ns, n])).length;
        await this.write(this.q.sweepIdempotency, [this.ns, n]);
        return swept;
      },
      paused: () => this.guard.breaker.state !== "closed",
      logger,
    });
  }

  /** Creates the table and index if missing; resolves false (without throwing) when PostgreSQL is not reachable yet. */
  async connected(): Promise<boolean> {
    try {
      await this.ensureSchema();
      return true;
    } catch {
      return false;
    }
  }

  /** Starts the expiry sweeper and the health check. */
  start(): void {
    this.probe.start();
    this.sweeper.start();
  }

  async set(key: string, value: Uint8Array, ttlSeconds: number, write?: WriteOptions): Promise<void> {
    const params = [this.ns, keyBytes(key), value, ttlSeconds, null];
    if (write?.idempotencyKey) await this.keyed(write, `set\0${key}`, async (q) => void (await q(this.q.set, params)));
    else await this.write(this.q.set, params);
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    const rows = await this.read(this.q.get, [this.ns, keyBytes(key)]);
    return rows[0]?.value as Uint8Array | undefined;
  }

  async delete(key: string, write?: WriteOptions): Promise<boolean> {
    const params = [this.ns, keyBytes(key)];
    if (write?.idempotencyKey) return this.keyed(write, `delete\0${key}`, async (q) => (await q(this.q.delete, params))[0]?.live === true);
    const rows = await this.write(this.q.delete, params);
    return rows[0]?.live === true;
  }

  async getVersioned(key: string): Promise<VersionedValue | undefined> {
    const row = (await this.read(this.q.getVersioned, [this.ns, keyBytes(key)]))[0];
    if (row === undefined) return undefined;
    const tags = tagsOf(row.tags);
    return tags ? { value: row.value as Uint8Array, version: String(row.version), tags } : { value: row.value as Uint8Array, version: String(row.version) };
  }

  /** Compare-and-set on the version column, one statement; ABORTED with the current version on a mismatch. */
  async setVersioned(
    key: string,
    value: Uint8Array,
    ttlSeconds: number,
    expected: string | undefined,
    write?: WriteOptions,
    tags?: Record<string, string>,
  ): Promise<string> {
    const k = keyBytes(key);
    // jsonb parameters are given as objects: the client encodes them (a string would be stored as a JSON string).
    const base = [this.ns, k, value, ttlSeconds, tags && Object.keys(tags).length > 0 ? tags : null];
    const run = async (q: (text: string, params: unknown[]) => Promise<Row[]>) => {
      let rows: Row[];
      if (expected === undefined) rows = await q(this.q.setReturning, base);
      else if (expected === "") rows = await q(this.q.insertIfAbsent, base);
      else rows = /^\d+$/.test(expected) ? await q(this.q.updateIfVersion, [...base, expected]) : [];
      if (rows.length === 0) throw versionMismatch(key, expected!, await this.currentVersion(q, k));
      return String(rows[0]!.version);
    };
    if (write?.idempotencyKey) return this.keyed(write, `set\0${key}`, run);
    return this.guard.write(() => run((text, params) => this.statement(text, params, true)));
  }

  async deleteVersioned(key: string, expected: string | undefined, write?: WriteOptions): Promise<boolean> {
    if (expected === undefined) return this.delete(key, write);
    const k = keyBytes(key);
    const run = async (q: (text: string, params: unknown[]) => Promise<Row[]>) => {
      const current = await this.currentVersion(q, k);
      if (expected === "") {
        if (current !== undefined) throw versionMismatch(key, expected, current);
        return false;
      }
      const rows = /^\d+$/.test(expected) ? await q(this.q.deleteIfVersion, [this.ns, k, expected]) : [];
      if (rows.length === 0) throw versionMismatch(key, expected, await this.currentVersion(q, k));
      return true;
    };
    if (write?.idempotencyKey) return this.keyed(write, `delete\0${key}`, run);
    return this.guard.write(() => run((text, params) => this.statement(text, params, true)));
  }

  private async currentVersion(q: (text: string, params: unknown[]) => Promise<Row[]>, k: Buffer): Promise<string | undefined> {
    const row = (await q(this.q.currentVersion, [this.ns, k]))[0];
    return row && String(row.version);
  }

  async exists(key: string): Promise<boolean> {
    return (await this.read(this.q.exists, [this.ns, keyBytes(key)])).length > 0;
  }

  /** False when the key does not exist (or has expired); a TTL of zero or less deletes the key, as Redis does. */
  async expire(key: string, ttlSeconds: number, write?: WriteOptions): Promise<boolean> {
    const statement = ttlSeconds <= 0 ? this.q.delete : this.q.expire;
    const params = ttlSeconds <= 0 ? [this.ns, keyBytes(key)] : [this.ns, keyBytes(key), ttlSeconds];
    const applied = (rows: Row[]) => (ttlSeconds <= 0 ? rows[0]?.live === true : rows.length > 0);
    if (write?.idempotencyKey) return this.keyed(write, `expire\0${key}`, async (q) => applied(await q(statement, params)));
    return applied(await this.write(statement, params));
  }

  async getTTL(key: string): Promise<number> {
    const row = (await this.read(this.q.ttl, [this.ns, keyBytes(key)]))[0];
    if (row === undefined) return -2;
    return row.ttl === null ? -1 : Number(row.ttl);
  }

  async persist(key: string, write?: WriteOptions): Promise<boolean> {
    const params = [this.ns, keyBytes(key)];
    if (write?.idempotencyKey) return this.keyed(write, `persist\0${key}`, async (q) => (await q(this.q.persist, params)).length > 0);
    return (await this.write(this.q.persist, params)).length > 0;
  }

  /** One INSERT ... SELECT FROM unnest(...) ON CONFLICT: all or nothing; a key given twice keeps its last value. */
  async batchSet(entries: BatchSetEntry[], write?: WriteOptions): Promise<void> {
    if (entries.length === 0) return;
    const last = new Map<string, BatchSetEntry>();
    for (const e of entries) {
      last.delete(e.key);
      last.set(e.key, e);
    }
    const unique = [...last.values()];
    const params = [
      this.ns,
      unique.map((e) => keyBytes(e.key)),
      unique.map((e) => asBuffer(e.value)),
      unique.map((e) => e.ttlSeconds),
      unique.map((e) => (e.tags && Object.keys(e.tags).length > 0 ? e.tags : null)),
    ];
    if (write?.idempotencyKey) await this.keyed(write, "batchSet", async (q) => void (await q(this.q.batchSet, params)));
    else await this.write(this.q.batchSet, params);
  }

  async batchGet(keys: string[]): Promise<(Uint8Array | undefined)[]> {
    if (keys.length === 0) return [];
    const rows = await this.read(this.q.batchGet, [this.ns, keys.map(keyBytes)]);
    const found = new Map<string, Uint8Array>();
    for (const r of rows) found.set(keyText(r.key as Uint8Array), r.value as Uint8Array);
    return keys.map((k) => found.get(k));
  }

  /** One DELETE ... RETURNING; a key listed twice is reported found once, like pipelined DELs. */
  async batchDelete(keys: string[], write?: WriteOptions): Promise<boolean[]> {
    if (keys.length === 0) return [];
    const params = [this.ns, keys.map(keyBytes)];
    const found = (rows: Row[]) => {
      const live = new Set<string>();
      for (const r of rows) if (r.live === true) live.add(keyText(r.key as Uint8Array));
      return keys.map((k) => live.delete(k));
    };
    if (write?.idempotencyKey) return this.keyed(write, "batchDelete", async (q) => found(await q(this.q.batchDelete, params)));
    return found(await this.write(this.q.batchDelete, params));
  }

  /**
   * A keyed write: in one transaction, claim the idempotency record of (scope, key) and run the write, recording
   * its result; or, when the record is already there within its window, answer the recorded result.
   */
  private keyed<T>(write: WriteOptions, scope: string, run: (q: (text: string, params: unknown[]) => Promise<Row[]>) => Promise<T>): Promise<T> {
    const id = createHash("sha256").update(scope).update("\0").update(write.idempotencyKey!).digest();
    return this.guard.write(async () => {
      await this.ensureSchema().catch((err) => {
        throw markNotApplied(postgresError(err, this.target, false));
      });
      const tx = this.sql.begin(async (tx) => {
        const q = (text: string, params: unknown[]) => tx.unsafe(text, params) as unknown as Promise<Row[]>;
        if ((await q(this.q.claim, [this.ns, id, write.windowMs])).length === 0) {
          const recorded = (await q(this.q.recall, [this.ns, id]))[0]?.result;
          return (typeof recorded === "string" ? JSON.parse(recorded) : undefined) as T;
        }
        const result = await run(q);
        await q(this.q.record, [this.ns, id, JSON.stringify(result ?? null)]);
        return result;
      });
      return this.timed(tx, this.config.statementTimeoutMs + CLIENT_MARGIN_MS, true);
    });
  }

  /**
   * Keyset pagination in key order: each page is `key > last returned key` (or `>= prefix`) up to the prefix's
   * range end, LIMIT n+1 to learn whether another page follows. The cursor is the last key returned, so pages
   * never repeat or skip a key that exists throughout, whatever is written meanwhile.
   */
  async *scan(opts: ScanOptions): AsyncIterable<ScanEntry> {
    const prefix = keyBytes(opts.prefix);
    const end = prefixEnd(prefix);
    let after: Buffer | undefined = opts.cursor ? decodeCursor(opts.cursor, opts.prefix) : undefined;
    let remaining = opts.limit > 0 ? opts.limit : Infinity;
    for (;;) {
      opts.signal.throwIfAborted();
      const want = Math.min(remaining, UNLIMITED_SCAN_PAGE);
      const text = this.q.scan(opts.withValues, after !== undefined, end !== undefined);
      const params: unknown[] = [this.ns, after ?? prefix];
      if (end !== undefined) params.push(end);
      params.push(want + 1);
      const rows = await this.read(text, params, opts.signal);
      const page = rows.slice(0, want);
      const more = rows.length > want;
      for (let i = 0; i < page.length; i++) {
        const row = page[i]!;
        const key = row.key as Uint8Array;
        const entry: ScanEntry = opts.withValues ? { key: keyText(key), value: row.value as Uint8Array } : { key: keyText(key) };
        const tags = opts.withValues ? tagsOf(row.tags) : undefined;
        if (tags) entry.tags = tags;
        remaining--;
        if (remaining === 0 && i === page.length - 1 && more) entry.nextCursor = encodeCursor(opts.prefix, key);
        yield entry;
      }
      if (!more || remaining === 0) return;
      after = Buffer.from(page.at(-1)!.key as Uint8Array);
    }
  }

  /** JsonFilterScanDriver: the filter as a JSONB condition (native_filter.ts). */
  filterScan(opts: JsonFilterScanOptions) {
    return postgresFilterScan(this.config.table, this.ns, opts, (text, params) => this.read(text, params, opts.signal));
  }

  async count(prefix: string): Promise<number> {
    const p = keyBytes(prefix);
    const end = prefixEnd(p);
    const rows = await this.read(this.q.count(end !== undefined), end !== undefined ? [this.ns, p, end] : [this.ns, p]);
    return Number(rows[0]?.n ?? 0);
  }

  queuePublish(topic: string, messages: QueuePublishMessage[]) {
    return this.queue.queuePublish(topic, messages);
  }
  queueConsume(opts: QueueConsumeOptions) {
    return this.queue.queueConsume(opts);
  }
  queueAck(topic: string, group: string, tokens: string[]) {
    return this.queue.queueAck(topic, group, tokens);
  }
  queueNack(topic: string, group: string, token: string, redeliverAfterMs: number, error: string) {
    return this.queue.queueNack(topic, group, token, redeliverAfterMs, error);
  }
  queueStats(topic: string, group: string) {
    return this.queue.queueStats(topic, group);
  }

  circuitState() {
    return this.guard.breaker.state;
  }

  /** Healthy when the health check's `select 1` answers and the breaker is closed; unhealthy with the reason otherwise. */
  async health(): Promise<HealthReport> {
    const breaker = this.guard.breaker.state;
    const details: Record<string, string> = {
      target: this.target,
      user: this.config.user,
      table: this.config.table,
      namespace: this.ns,
      tls: this.config.tls.mode,
      pool_size: String(this.config.poolSize),
      connections_open: String(this.pool.open),
      circuit: breaker,
      expired_swept_total: String(this.sweeper.swept),
    };
    await this.probe.check();
    if (this.probe.down) return { status: "unhealthy", message: `postgres ${this.target} does not answer: ${this.probe.reason}`, details };
    if (breaker === "open")
      return { status: "degraded", message: `circuit open for postgres ${this.target}; it answers again, calls resume after a probe`, details };
    if (breaker === "half-open") return { status: "degraded", message: "postgres circuit half-open: probing recovery", details };
    return { status: "healthy", details };
  }

  async close(): Promise<void> {
    await this.sweeper.stop();
    await this.probe.stop();
    this.pool.closing = true;
    await this.sql.close({ timeout: 5 });
  }

  /** Table and expiry index, created once per process (concurrent creators are tolerated). */
  private ensureSchema(): Promise<void> {
    this.schema ??= (async () => {
      for (let attempt = 1; ; attempt++) {
        try {
          for (const ddl of this.q.schema) await this.timed(this.sql.unsafe(ddl), this.config.statementTimeoutMs + CLIENT_MARGIN_MS, true);
          return;
        } catch (err) {
          // Two processes creating the same table at once: one of them gets a unique violation on the catalog.
          const state = (err as { errno?: string }).errno;
          if (attempt < 3 && (state === "23505" || state === "42P07" || state === "42701")) continue;
          throw err;
        }
      }
    })();
    this.schema.catch(() => (this.schema = undefined));
    return this.schema;
  }

  private read(text: string, params: unknown[], signal?: AbortSignal): Promise<Row[]> {
    return this.guard.read(() => this.statement(text, params, false), signal);
  }

  private write(text: string, params: unknown[]): Promise<Row[]> {
    return this.guard.write(() => this.statement(text, params, true));
  }

  private async statement(text: string, params: unknown[], write: boolean): Promise<Row[]> {
    // Fail fast: a server that does not answer its health check gets no statement (so none is applied).
    if (this.probe.down) {
      void this.probe.check(true); // recovery shows without waiting for the probe's timer (or with none running)
      throw this.notAnswering();
    }
    await this.ensureSchema().catch((err) => {
      throw markNotApplied(postgresError(err, this.target, false));
    });
    return (await this.timed(this.sql.unsafe(text, params), this.config.statementTimeoutMs + CLIENT_MARGIN_MS, write)) as Row[];
  }

  /** The refusal of a call while the health check gets no answer: the call was not sent. */
  private notAnswering(): PrismError {
    return markNotApplied(
      new PrismError(
        Code.UNAVAILABLE,
        `postgres ${this.target} unavailable: it does not answer its health check (${this.probe.reason}); the call was not sent`,
      ),
    );
  }

  /**
   * Runs a query with a client-side bound (a frozen server never answers), mapping its errors. It also stops
   * waiting once the health check finds the server down: a read is then UNAVAILABLE, a write (sent, maybe
   * applied when the server wakes) DEADLINE_EXCEEDED, outcome unknown.
   */
  private async timed<T>(query: PromiseLike<T> & { cancel?: () => unknown }, ms: number, write: boolean): Promise<T> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    let offDown: (() => void) | undefined;
    const giveUp = (reject: (err: PrismError) => void, err: PrismError) => {
      try {
        query.cancel?.();
      } catch {
        // already finished or never started
      }
      reject(err);
    };
    const limit = new Promise<never>((_, reject) => {
      timer = setTimeout(() => giveUp(reject, clientTimeout(this.target, ms, write)), ms);
      // Down already (found while this call awaited the schema): the statement may have left, so not UNAVAILABLE.
      if (this.probe.down) giveUp(reject, serverSilent(this.target, this.probe.reason, write));
      else offDown = this.probe.onceDown((reason) => giveUp(reject, serverSilent(this.target, reason, write)));
    });
    try {
      return await Promise.race([query, limit]);
    } catch (err) {
      throw postgresError(err, this.target, write);
    } finally {
      clearTimeout(timer);
      offDown?.();
    }
  }
}

/** The tags of a row (jsonb, decoded by the client or as text), or undefined for none. */
function tagsOf(column: unknown): Record<string, string> | undefined {
  if (column === null || column === undefined) return undefined;
  const tags = (typeof column === "string" ? JSON.parse(column) : column) as Record<string, string>;
  return Object.keys(tags).length > 0 ? tags : undefined;
}
