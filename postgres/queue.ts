import {
  Wakers,
  type QueueConsumeOptions,
  type QueueDelivery,
  type QueueDriver,
  type QueueFeatures,
  type QueuePublished,
  type QueuePublishMessage,
  type QueueStats,
} from "@prism/sdk";

type Row = Record<string, unknown>;
type Run = (text: string, params: unknown[]) => Promise<Row[]>;

/** How the queue reaches PostgreSQL: the driver's guarded statements and transactions. */
export interface PgRunner {
  read: Run;
  write: Run;
  /** Runs fn in one transaction (guarded as a write). */
  transaction<T>(fn: (q: Run) => Promise<T>): Promise<T>;
}

const POLL_MIN_MS = 10;
const POLL_MAX_MS = 200;

/**
 * Queues in PostgreSQL tables (QueueDriver): `<table>_queue_messages` holds each message once, `<table>_queue_groups`
 * the groups of a topic, and `<table>_queue_deliveries` one row per message and group with its visibility time,
 * attempts, lease and last error. Publishing inserts the message and a delivery row for every group of the topic
 * in one transaction; creating a group copies delivery rows for the messages retained. Both take a per-topic
 * advisory lock (shared for publish, exclusive for group creation), so no message misses a group created
 * concurrently. Consumers claim visible rows with `FOR UPDATE SKIP LOCKED`, oldest first, making them invisible for
 * the ack deadline; an ack deletes the row (and the message once no group holds it), a nack makes it visible again
 * after the delay. Competing consumers do not keep per-key order. Waiting is polling, woken at once by publishes
 * through this process. Times are the pattern's clock (Unix ms).
 */
export class PostgresQueue implements QueueDriver {
  readonly queueFeatures: QueueFeatures = {
    ordering: "none",
    batch: "native",
    durable: true,
    maxMessageSize: 64 * 1024 * 1024,
    durableStats: false,
  };
  private readonly messages: string;
  private readonly groupsTable: string;
  private readonly deliveries: string;
  private schema: Promise<void> | undefined;
  private readonly knownGroups = new Set<string>();
  private readonly wakers = new Wakers();

  constructor(
    private readonly db: PgRunner,
    private readonly ns: string,
    table: string,
  ) {
    this.messages = `${table}_queue_messages`;
    this.groupsTable = `${table}_queue_groups`;
    this.deliveries = `${table}_queue_deliveries`;
  }

  private ensureSchema(): Promise<void> {
    this.schema ??= (async () => {
      const ddl = [
        `create table if not exists ${this.messages} (namespace text not null, topic text not null, id bigserial not null, key text not null, headers jsonb not null, payload bytea not null, published_at bigint not null, primary key (namespace, topic, id))`,
        `create table if not exists ${this.groupsTable} (namespace text not null, topic text not null, grp text not null, primary key (namespace, topic, grp))`,
        `create table if not exists ${this.deliveries} (namespace text not null, topic text not null, grp text not null, id bigint not null, visible_at bigint not null, inflight boolean not null default false, attempts int not null default 0, lease bigint not null default 0, last_error text not null default '', primary key (namespace, topic, grp, id))`,
        // An ack deletes the message once no other group holds it: that lookup goes by message, across groups.
        `create index if not exists ${this.deliveries.replace(/^.*\./, "")}_by_message on ${this.deliveries} (namespace, topic, id)`,
      ];
      for (let attempt = 1; ; attempt++) {
        try {
          for (const s of ddl) await this.db.write(s, []);
          return;
        } catch (err) {
          // Two processes creating the same table at once: one gets a unique violation on the catalog.
          const state = (err as { errno?: string; cause?: { errno?: string } }).cause?.errno ?? (err as { errno?: string }).errno;
          if (attempt < 3 && (state === "23505" || state === "42P07")) continue;
          throw err;
        }
      }
    })();
    this.schema.catch(() => (this.schema = undefined));
    return this.schema;
  }

  private lockKey(topic: string): string {
    return `${this.ns}/${topic}`;
  }

  async queuePublish(topic: string, messages: QueuePublishMessage[]): Promise<QueuePublished[]> {
    await this.ensureSchema();
    const now = Date.now();
    const ids = await this.db.transaction(async (q) => {
      await q("select pg_advisory_xact_lock_shared(hashtextextended($1, 0))", [this.lockKey(topic)]);
      const params: unknown[] = [this.ns, topic, now];
      const values = messages.map((m) => {
        params.push(m.key, JSON.stringify(m.headers), Buffer.from(m.payload));
        const n = params.length;
        return `($1, $2, $${n - 2}, $${n - 1}::jsonb, $${n}, $3)`;
      });
      const rows = await q(
        `insert into ${this.messages} (namespace, topic, key, headers, payload, published_at) values ${values.join(", ")} returning id`,
        params,
      );
      rows.sort((a, b) => Number(a.id) - Number(b.id));
      const ids = rows.map((r) => String(r.id));
      await q(
        `insert into ${this.deliveries} (namespace, topic, grp, id, visible_at)
         select g.namespace, g.topic, g.grp, m.id, 0 from ${this.groupsTable} g cross join unnest($3::bigint[]) as m(id)
         where g.namespace = $1 and g.topic = $2`,
        [this.ns, topic, `{${ids.join(",")}}`],
      );
      return ids;
    });
    this.wakers.wake(topic);
    return ids.map((messageId) => ({ messageId, duplicate: false }));
  }

  private async ensureGroup(topic: string, group: string): Promise<void> {
    await this.ensureSchema();
    const k = `${topic}\0${group}`;
    if (this.knownGroups.has(k)) return;
    await this.db.transaction(async (q) => {
      await q("select pg_advisory_xact_lock(hashtextextended($1, 0))", [this.lockKey(topic)]);
      const created = await q(`insert into ${this.groupsTable} (namespace, topic, grp) values ($1, $2, $3) on conflict do nothing returning grp`, [
        this.ns,
        topic,
        group,
      ]);
      if (created.length === 0) return;
      await q(
        `insert into ${this.deliveries} (namespace, topic, grp, id, visible_at)
         select namespace, topic, $3, id, 0 from ${this.messages} where namespace = $1 and topic = $2`,
        [this.ns, topic, group],
      );
    });
    if (this.knownGroups.size < 10_000) this.knownGroups.add(k);
  }

  async *queueConsume(opts: QueueConsumeOptions): AsyncIterable<QueueDelivery> {
    const { topic, group, signal } = opts;
    const poller = this.wakers.poller(topic);
    let pause = POLL_MIN_MS;
    let buffered: QueueDelivery[] = [];
    try {
      while (!signal.aborted) {
        let batch: QueueDelivery[] = [];
        try {
          await this.ensureGroup(topic, group);
          batch = await this.claim(topic, group, Math.max(1, opts.room()), opts.ackDeadlineMs);
        } catch {
          // PostgreSQL unreachable or failing: keep the stream open and try again (the driver metrics record it).
          pause = POLL_MAX_MS;
        }
        if (batch.length > 0) {
          pause = POLL_MIN_MS;
          buffered = batch;
          while (buffered.length > 0) yield buffered.shift()!;
          continue;
        }
        await poller.sleep(pause, signal);
        pause = Math.min(POLL_MAX_MS, pause * 2);
      }
    } finally {
      poller.close();
      for (const d of buffered) await this.queueNack(topic, group, d.token, 0, "").catch(() => undefined);
    }
  }

  private async claim(topic: string, group: string, count: number, ackDeadlineMs: number): Promise<QueueDelivery[]> {
    const now = Date.now();
    const claimed = await this.db.write(
      // A CTE with FOR UPDATE runs once (a subquery in IN may be run again and lock other rows).
      `with c as (
         select id from ${this.deliveries}
         where namespace = $1 and topic = $2 and grp = $3 and visible_at <= $4
         order by id limit $5
         for update skip locked
       )
       update ${this.deliveries} d
       set visible_at = $4 + $6, inflight = true, attempts = d.attempts + 1, lease = d.lease + 1
       from c where d.namespace = $1 and d.topic = $2 and d.grp = $3 and d.id = c.id
       returning d.id, d.attempts, d.lease, d.last_error`,
      [this.ns, topic, group, now, count, ackDeadlineMs],
    );
    if (claimed.length === 0) return [];
    const bodies = await this.db.read(
      `select id, key, headers, payload, published_at from ${this.messages} where namespace = $1 and topic = $2 and id = any($3::bigint[])`,
      [this.ns, topic, `{${claimed.map((r) => r.id).join(",")}}`],
    );
    const byId = new Map(bodies.map((m) => [String(m.id), m]));
    const rows = claimed.filter((r) => byId.has(String(r.id))).map((r) => ({ ...byId.get(String(r.id))!, ...r }));
    rows.sort((a, b) => Number(a.id) - Number(b.id));
    return rows.map((r) => ({
      messageId: String(r.id),
      key: String(r.key),
      payload: new Uint8Array(r.payload as Uint8Array),
      headers: (typeof r.headers === "string" ? JSON.parse(r.headers) : r.headers) as Record<string, string>,
      publishedAt: Number(r.published_at),
      attempt: Number(r.attempts),
      token: `${r.id}.${r.lease}`,
      lastError: String(r.last_error ?? ""),
    }));
  }

  async queueAck(topic: string, group: string, tokens: string[]): Promise<boolean[]> {
    const parsed = tokens.map(parseToken);
    const ids = parsed.filter((p) => p !== undefined).map((p) => p.id);
    if (ids.length === 0) return tokens.map(() => false);
    await this.ensureSchema();
    const rows = await this.db.write(
      `delete from ${this.deliveries} where namespace = $1 and topic = $2 and grp = $3 and id = any($4::bigint[]) returning id`,
      [this.ns, topic, group, `{${ids.join(",")}}`],
    );
    if (rows.length > 0) {
      // The message itself goes once no group holds it any more.
      await this.db.write(
        `delete from ${this.messages} m where m.namespace = $1 and m.topic = $2 and m.id = any($3::bigint[])
         and not exists (select 1 from ${this.deliveries} d where d.namespace = $1 and d.topic = $2 and d.id = m.id)`,
        [this.ns, topic, `{${rows.map((r) => r.id).join(",")}}`],
      );
    }
    const done = new Set(rows.map((r) => String(r.id)));
    return parsed.map((p) => p !== undefined && done.delete(p.id));
  }

  async queueNack(topic: string, group: string, token: string, redeliverAfterMs: number, error: string): Promise<boolean> {
    const p = parseToken(token);
    if (!p) return false;
    await this.ensureSchema();
    const rows = await this.db.write(
      `update ${this.deliveries}
       set inflight = false, visible_at = $6, last_error = case when $7 = '' then last_error else $7 end
       where namespace = $1 and topic = $2 and grp = $3 and id = $4 and lease = $5 and inflight
       returning id`,
      [this.ns, topic, group, p.id, p.lease, Date.now() + Math.max(0, redeliverAfterMs), error],
    );
    if (rows.length > 0) this.wakers.wake(topic);
    return rows.length > 0;
  }

  async queueStats(topic: string, group: string): Promise<QueueStats> {
    await this.ensureGroup(topic, group);
    const rows = await this.db.read(
      `select count(*) as total, count(*) filter (where inflight and visible_at > $4) as inflight
       from ${this.deliveries} where namespace = $1 and topic = $2 and grp = $3`,
      [this.ns, topic, group, Date.now()],
    );
    const total = Number(rows[0]?.total ?? 0);
    const inFlight = Number(rows[0]?.inflight ?? 0);
    return { pending: total - inFlight, inFlight };
  }
}

function parseToken(token: string): { id: string; lease: string } | undefined {
  const m = /^(\d+)\.(\d+)$/.exec(token);
  return m ? { id: m[1]!, lease: m[2]! } : undefined;
}
