/**
 * Every SQL statement of the driver, built once per table name (a validated identifier, the only text spliced in;
 * everything else is a parameter). $1 is always the namespace. A row is live while expires_at is null or ahead of
 * now(): every read filters on it, so an expired key is invisible at once, before the sweeper deletes it.
 */
export const LIVE = "(expires_at is null or expires_at > now())";
const EXPIRES = (ttl: string) => `case when ${ttl} > 0 then now() + ${ttl} * interval '1 second' end`;

export class Statements {
  readonly schema: string[];
  readonly get: string;
  readonly exists: string;
  readonly set: string;
  readonly delete: string;
  readonly expire: string;
  readonly ttl: string;
  readonly persist: string;
  readonly batchSet: string;
  readonly batchGet: string;
  readonly batchDelete: string;
  readonly sweep: string;
  /** Conditional writes on the version column (a table-wide sequence: a re-created key never repeats a version). */
  readonly getVersioned: string;
  readonly setReturning: string;
  readonly insertIfAbsent: string;
  readonly updateIfVersion: string;
  readonly currentVersion: string;
  readonly deleteIfVersion: string;
  /** Idempotency records (x-prism-idempotency-key): claim one, recall its result, record it, sweep expired ones. */
  readonly claim: string;
  readonly recall: string;
  readonly record: string;
  readonly sweepIdempotency: string;
  private readonly scans = new Map<string, string>();

  constructor(private readonly table: string) {
    const t = table;
    const indexName = `${t.split(".").at(-1)}_expiry`;
    this.schema = [
      `create table if not exists ${t} (
        namespace text not null,
        key bytea not null,
        value bytea not null,
        expires_at timestamptz,
        primary key (namespace, key)
      )`,
      `create index if not exists ${indexName} on ${t} (namespace, expires_at) where expires_at is not null`,
      `create sequence if not exists ${t}_version`,
      `alter table ${t} add column if not exists version int8 not null default 0`,
      `alter table ${t} add column if not exists tags jsonb`,
      `create table if not exists ${t}_idempotency (
        namespace text not null,
        id bytea not null,
        result text,
        expires_at timestamptz not null,
        primary key (namespace, id)
      )`,
      `create index if not exists ${indexName}_idempotency on ${t}_idempotency (namespace, expires_at)`,
    ];
    const one = `where namespace = $1 and key = $2`;
    this.get = `select value from ${t} ${one} and ${LIVE}`;
    this.exists = `select 1 from ${t} ${one} and ${LIVE}`;
    const next = `nextval('${t}_version')`;
    // $5: the value's tags as JSON, or null (every write of the value replaces them).
    this.set = `insert into ${t} (namespace, key, value, expires_at, version, tags) values ($1, $2, $3, ${EXPIRES("$4::int8")}, ${next}, $5::jsonb)
      on conflict (namespace, key) do update set value = excluded.value, expires_at = excluded.expires_at, version = excluded.version, tags = excluded.tags`;
    this.setReturning = `${this.set} returning version`;
    this.getVersioned = `select value, version, tags from ${t} ${one} and ${LIVE}`;
    // An expired row counts as absent: it is taken over.
    this.insertIfAbsent = `insert into ${t} as cur (namespace, key, value, expires_at, version, tags) values ($1, $2, $3, ${EXPIRES("$4::int8")}, ${next}, $5::jsonb)
      on conflict (namespace, key) do update set value = excluded.value, expires_at = excluded.expires_at, version = excluded.version, tags = excluded.tags
        where cur.expires_at is not null and cur.expires_at <= now()
      returning version`;
    this.updateIfVersion = `update ${t} set value = $3, expires_at = ${EXPIRES("$4::int8")}, version = ${next}, tags = $5::jsonb
      ${one} and ${LIVE} and version = $6::int8 returning version`;
    this.currentVersion = `select version from ${t} ${one} and ${LIVE}`;
    this.deleteIfVersion = `delete from ${t} ${one} and ${LIVE} and version = $3::int8 returning true as live`;
    this.delete = `delete from ${t} ${one} returning ${LIVE} as live`;
    this.expire = `update ${t} set expires_at = now() + $3::int8 * interval '1 second' ${one} and ${LIVE} returning 1`;
    this.ttl = `select case when expires_at is null then null
        else greatest(0, round(extract(epoch from expires_at - now())))::int8 end as ttl
      from ${t} ${one} and ${LIVE}`;
    this.persist = `update ${t} set expires_at = null ${one} and expires_at > now() returning 1`;
    // $5: a JSON array with each entry's tags (or null), by position.
    this.batchSet = `insert into ${t} (namespace, key, value, expires_at, version, tags)
        select $1, u.k, u.v, ${EXPIRES("u.t")}, ${next}, nullif($5::jsonb -> (u.i - 1)::int, 'null'::jsonb)
        from unnest($2::bytea[], $3::bytea[], $4::int8[]) with ordinality as u(k, v, t, i)
      on conflict (namespace, key) do update set value = excluded.value, expires_at = excluded.expires_at, version = excluded.version, tags = excluded.tags`;
    this.batchGet = `select key, value from ${t} where namespace = $1 and key = any($2::bytea[]) and ${LIVE}`;
    this.batchDelete = `delete from ${t} where namespace = $1 and key = any($2::bytea[]) returning key, ${LIVE} as live`;
    const idem = `${t}_idempotency`;
    // A record still inside its window is kept (no row returned: the caller recalls its result); an expired one is
    // taken over. A concurrent claim of the same id waits for the first transaction, then sees its record.
    this.claim = `insert into ${idem} as i (namespace, id, expires_at) values ($1, $2, now() + $3::int8 * interval '1 millisecond')
      on conflict (namespace, id) do update set result = null, expires_at = excluded.expires_at where i.expires_at <= now()
      returning 1`;
    this.recall = `select result from ${idem} where namespace = $1 and id = $2`;
    this.record = `update ${idem} set result = $3 where namespace = $1 and id = $2`;
    this.sweepIdempotency = `delete from ${idem} where ctid = any(array(
        select ctid from ${idem} where namespace = $1 and expires_at <= now() limit $2
      ))`;
    // Bounded: one batch of expired rows per statement, found through the partial expiry index.
    this.sweep = `delete from ${t} where ctid = any(array(
        select ctid from ${t} where namespace = $1 and expires_at is not null and expires_at <= now() limit $2
      )) returning 1`;
  }

  /** A page of a scan: $2 = lower bound (inclusive prefix, or exclusive last key), [$3 = range end], then the limit. */
  scan(withValues: boolean, afterKey: boolean, bounded: boolean): string {
    const id = `${+withValues}${+afterKey}${+bounded}`;
    let s = this.scans.get(id);
    if (s === undefined) {
      s = `select key${withValues ? ", value, tags" : ""} from ${this.table}
        where namespace = $1 and key ${afterKey ? ">" : ">="} $2${bounded ? " and key < $3" : ""} and ${LIVE}
        order by key limit $${bounded ? 4 : 3}`;
      this.scans.set(id, s);
    }
    return s;
  }

  count(bounded: boolean): string {
    return `select count(*) as n from ${this.table} where namespace = $1 and key >= $2${bounded ? " and key < $3" : ""} and ${LIVE}`;
  }
}
