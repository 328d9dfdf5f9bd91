import { Code, type Logger, notFound, PrismError } from "@prism/sdk";
import { checkAttributes, checkOwner, type SessionLimits, ttlOf } from "./limits";
import type { SessionMetrics } from "./metrics";
import {
  decodeRecord,
  encodeRecord,
  merge,
  newSessionId,
  ownerKey,
  ownerPrefix,
  sameState,
  SESSION_PREFIX,
  secondsLeft,
  sessionKey,
  type SessionRecord,
} from "./record";
import { HashRing } from "./ring";
import type { Shard } from "./shards";

export interface StoreOptions {
  /** This instance's region: stamped on the versions it makes, the tie-break of the replication rule. */
  region: string;
  virtualNodes: number;
  limits: SessionLimits;
  /** Keep deleted sessions as tombstones until they would have expired (replication: an older version must not revive them). */
  tombstones: boolean;
  logger: Logger;
  metrics?: SessionMetrics;
  /** Pause between background passes while sessions remain to be moved. */
  rebalanceIntervalMs: number;
  now?: () => number;
}

/** Where a session was found: its shard, its record and the driver's version of the key (for compare-and-set). */
interface Located {
  shard: Shard;
  rec: SessionRecord;
  dv: string;
}

const EMPTY = new Uint8Array(0);
const RING_KEY = "meta/ring";
const MAX_RETRIES = 50;

const isAborted = (err: unknown) => err instanceof PrismError && err.code === Code.ABORTED;
const aborted = (msg: string) => new PrismError(Code.ABORTED, msg);
/** A failed compare-and-set: the session's current version travels in x-prism-current-version ("" = gone), as key-value's (contract §5). */
const CURRENT_VERSION_HEADER = "x-prism-current-version";
const conflict = (msg: string, current: number | undefined) =>
  new PrismError(Code.ABORTED, msg, { metadata: { [CURRENT_VERSION_HEADER]: current === undefined ? "" : String(current) } });

/** Outcome of applying a change from another region. */
export type ApplyResult = "applied" | "ignored" | "conflict";

/**
 * Sessions on a set of key-value shards. Each session lives on the shard the hash ring gives its id, with an
 * owner-index key beside it. After the shard set changed, a session not yet on its new shard is looked up on the
 * previous owner (then on every shard) and moved on first access; a background pass moves the rest. Within one
 * region every session has one home, so reads see the last acknowledged write and compare-and-set is exact.
 */
export class SessionStore {
  private shards = new Map<string, Shard>();
  private ring: HashRing;
  private previous?: HashRing;
  /** Sessions may still sit off their owner shard: misses look elsewhere and the background pass runs. */
  private migrating = false;
  /** Calls in flight per ring epoch: a pass starts only when none placed a session with an older ring. */
  private epoch = 0;
  private readonly inflight = new Map<number, number>();
  private idleWaiters: (() => void)[] = [];
  private passTimer?: ReturnType<typeof setTimeout>;
  private passRunning?: Promise<void>;
  private closed = false;
  /** Called after every local change (replication ships it); awaited, so a caller's write is shipped when it returns. */
  onChange?: (rec: SessionRecord) => Promise<void>;
  private readonly now: () => number;

  constructor(
    shards: readonly Shard[],
    private readonly opts: StoreOptions,
  ) {
    for (const s of shards) this.shards.set(s.name, s);
    this.ring = this.ringOf(shards);
    this.now = opts.now ?? Date.now;
  }

  get region(): string {
    return this.opts.region;
  }

  get limits(): SessionLimits {
    return this.opts.limits;
  }

  shardList(): Shard[] {
    return [...this.shards.values()];
  }

  /** Whether sessions may still be off their owner shard (a move is unfinished). */
  get moving(): boolean {
    return this.migrating;
  }

  /** The shard that owns a session id now. */
  ownerOf(id: string): Shard {
    return this.shards.get(this.ring.owner(id)!)!;
  }

  /**
   * Compares the ring recorded on the shards with this one: when they differ (a shard was added or removed while
   * stopped) or a shard is draining, sessions are looked up beyond their owner until a background pass has moved
   * them all.
   */
  async start(): Promise<void> {
    const recorded = await Promise.allSettled(this.shardList().map(async (s) => s.driver.get(RING_KEY)));
    const members = new Set<string>();
    let differs = this.shardList().some((s) => s.draining);
    for (const r of recorded) {
      if (r.status === "rejected") {
        differs = true;
        continue;
      }
      const stored = r.value ? (JSON.parse(new TextDecoder().decode(r.value)) as { members: string[] }).members : undefined;
      // A shard that records no ring is new (or was never passed over): a pass finds out what it holds.
      if (!stored) {
        differs = true;
        continue;
      }
      for (const m of stored) members.add(m);
      if (stored.join(",") !== this.ring.members.join(",")) differs = true;
    }
    if (!differs) return;
    const before = [...members].filter((m) => this.shards.has(m)).sort();
    this.beginMove(before.length > 0 ? new HashRing(before, this.opts.virtualNodes) : undefined);
  }

  /**
   * A new shard set in a running store (shards to remove stay listed with draining: true until a pass has emptied
   * them). Calls already running finish on the old ring before the background pass starts.
   */
  reshard(shards: readonly Shard[]): void {
    const previous = this.ring;
    this.shards = new Map(shards.map((s) => [s.name, s]));
    this.ring = this.ringOf(shards);
    this.epoch++;
    this.beginMove(previous);
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.passTimer);
    await this.passRunning?.catch(() => undefined);
  }

  // --- the operations --------------------------------------------------------------------------------------

  async create(owner: string, attributes: Record<string, Uint8Array>, ttlSeconds: number): Promise<SessionRecord> {
    const { limits } = this.opts;
    checkOwner(owner, limits);
    checkAttributes(attributes, limits);
    const ttl = ttlOf(ttlSeconds, limits);
    return this.tracked(async () => {
      const now = this.now();
      const rec: SessionRecord = {
        id: newSessionId(),
        owner,
        attributes,
        version: 1,
        createdAt: now,
        expiresAt: now + ttl * 1000,
        ttlSeconds: ttl,
        region: this.opts.region,
      };
      const shard = this.ownerOf(rec.id);
      // The index first: an index entry without its session is skipped by List; a session without one would be missed.
      await shard.driver.set(ownerKey(owner, rec.id), EMPTY, ttl);
      await shard.driver.setVersioned(sessionKey(rec.id), encodeRecord(rec), ttl, "");
      await this.changed(rec);
      return rec;
    });
  }

  async get(id: string): Promise<SessionRecord | undefined> {
    return this.tracked(async () => {
      const at = await this.locate(id);
      return at && !at.rec.deleted ? at.rec : undefined;
    });
  }

  async update(id: string, set: Record<string, Uint8Array>, remove: readonly string[], expected?: number): Promise<SessionRecord> {
    return this.tracked(async () => {
      for (let attempt = 0; ; attempt++) {
        const at = await this.locate(id);
        if (!at || at.rec.deleted) throw notFound(`session ${id} not found`);
        if (expected !== undefined && at.rec.version !== expected) {
          throw conflict(`session ${id} is at version ${at.rec.version}, not the expected ${expected}`, at.rec.version);
        }
        const attributes = { ...at.rec.attributes };
        for (const k of remove) delete attributes[k];
        Object.assign(attributes, set);
        checkAttributes(attributes, this.opts.limits);
        const next: SessionRecord = { ...at.rec, attributes, version: at.rec.version + 1, region: this.opts.region };
        if (await this.write(at, next)) {
          await this.changed(next);
          return next;
        }
        if (expected !== undefined) {
          const now = await this.locate(id);
          throw conflict(`session ${id} changed concurrently; version ${expected} is no longer current`, now && !now.rec.deleted ? now.rec.version : undefined);
        }
        if (attempt >= MAX_RETRIES) throw aborted(`session ${id} kept changing concurrently; try again`);
      }
    });
  }

  async touch(id: string, ttlSeconds: number): Promise<SessionRecord> {
    return this.tracked(async () => {
      for (let attempt = 0; ; attempt++) {
        const at = await this.locate(id);
        if (!at || at.rec.deleted) throw notFound(`session ${id} not found`);
        const ttl = ttlOf(ttlSeconds, this.opts.limits, at.rec.ttlSeconds);
        const next: SessionRecord = { ...at.rec, expiresAt: this.now() + ttl * 1000, ttlSeconds: ttl };
        if (await this.write(at, next)) {
          await at.shard.driver.set(ownerKey(next.owner, id), EMPTY, ttl);
          await this.changed(next);
          return next;
        }
        if (attempt >= MAX_RETRIES) throw aborted(`session ${id} kept changing concurrently; try again`);
      }
    });
  }

  async delete(id: string): Promise<boolean> {
    return this.tracked(async () => {
      for (let attempt = 0; ; attempt++) {
        const at = await this.locate(id);
        if (!at || at.rec.deleted) return false;
        const gone: SessionRecord = { ...at.rec, attributes: {}, version: at.rec.version + 1, region: this.opts.region, deleted: true };
        let done: boolean;
        if (this.opts.tombstones) done = await this.write(at, gone);
        else {
          try {
            await at.shard.driver.deleteVersioned(sessionKey(id), at.dv);
            done = true;
          } catch (err) {
            if (!isAborted(err)) throw err;
            done = false;
          }
        }
        if (done) {
          await at.shard.driver.delete(ownerKey(at.rec.owner, id));
          await this.changed(gone);
          return true;
        }
        if (attempt >= MAX_RETRIES) throw aborted(`session ${id} kept changing concurrently; try again`);
      }
    });
  }

  /** An owner's sessions in id order, `limit` at a time; `cursor` is the last id of the previous page. */
  async list(owner: string, limit: number, cursor: string, signal: AbortSignal): Promise<{ sessions: SessionRecord[]; next: string }> {
    checkOwner(owner, this.opts.limits);
    return this.tracked(async () => {
      const prefix = ownerPrefix(owner);
      const found = await Promise.all(
        this.shardList().map(async (s) => {
          const ids: string[] = [];
          try {
            for await (const e of s.driver.scan({ prefix, limit: 0, cursor: "", withValues: false, signal })) ids.push(e.key.slice(prefix.length));
          } catch (err) {
            const e = PrismError.from(err, Code.UNAVAILABLE);
            throw new PrismError(e.code, `listing sessions on shard ${s.name}: ${e.message}`, { cause: err });
          }
          return ids;
        }),
      );
      const ids = [...new Set(found.flat())].filter((id) => id > cursor).sort();
      const sessions: SessionRecord[] = [];
      let i = 0;
      while (i < ids.length && sessions.length < limit) {
        const batch = ids.slice(i, i + (limit - sessions.length));
        i += batch.length;
        const recs = await Promise.all(batch.map((id) => this.locate(id)));
        for (const at of recs) if (at && !at.rec.deleted && at.rec.owner === owner) sessions.push(at.rec);
      }
      return { sessions, next: i < ids.length && sessions.length > 0 ? sessions[sessions.length - 1]!.id : "" };
    });
  }

  /** A change from another region, merged by the rule (highest version, then region id; latest expiry). */
  async apply(incoming: SessionRecord): Promise<ApplyResult> {
    return this.tracked(async () => {
      for (let attempt = 0; ; attempt++) {
        const at = await this.locate(incoming.id);
        const merged = merge(at?.rec, incoming);
        // Two regions made the same version: the rule picks one (here the incoming or the local one).
        const conflict = at !== undefined && at.rec.version === incoming.version && at.rec.region !== incoming.region;
        if (at && sameState(merged, at.rec)) return conflict ? "conflict" : "ignored";
        if (merged.expiresAt <= this.now()) return "ignored";
        const shard = at?.shard ?? this.ownerOf(incoming.id);
        const ttl = secondsLeft(merged.expiresAt, this.now());
        try {
          if (!merged.deleted) await shard.driver.set(ownerKey(merged.owner, merged.id), EMPTY, ttl);
          await shard.driver.setVersioned(sessionKey(merged.id), encodeRecord(merged), ttl, at?.dv ?? "");
          if (merged.deleted) await shard.driver.delete(ownerKey(merged.owner, merged.id));
          return conflict ? "conflict" : "applied";
        } catch (err) {
          if (!isAborted(err) || attempt >= MAX_RETRIES) throw err;
        }
      }
    });
  }

  // --- placement and moves ---------------------------------------------------------------------------------

  private async read(shard: Shard, id: string): Promise<Located | undefined> {
    const v = await shard.driver.getVersioned(sessionKey(id));
    if (!v) return undefined;
    const rec = decodeRecord(v.value);
    // A backend that expires keys lazily (or a clock ahead of the backend's) may still hand out an expired session.
    if (rec.expiresAt <= this.now()) return undefined;
    return { shard, rec, dv: v.version };
  }

  /** Writes `next` over `at` if the key is still at `at.dv`; false when another write came first. */
  private async write(at: Located, next: SessionRecord): Promise<boolean> {
    try {
      await at.shard.driver.setVersioned(sessionKey(next.id), encodeRecord(next), secondsLeft(next.expiresAt, this.now()), at.dv);
      return true;
    } catch (err) {
      if (isAborted(err)) return false;
      throw err;
    }
  }

  /**
   * The session's current place. Only its owner shard is asked unless a move is unfinished: then a miss asks the
   * previous owner and every other shard, moves what it finds to the owner, and asks the owner once more (a
   * concurrent move writes the owner before deleting the old copy, so a session is never missed in between).
   */
  private async locate(id: string): Promise<Located | undefined> {
    const owner = this.ownerOf(id);
    const here = await this.read(owner, id);
    if (here || !this.migrating) return here;
    let failure: unknown;
    for (const s of this.searchOrder(id, owner)) {
      let found: Located | undefined;
      try {
        found = await this.read(s, id);
      } catch (err) {
        failure ??= err;
        continue;
      }
      if (found) return this.moveTo(owner, found);
    }
    const again = await this.read(owner, id);
    if (again) return again;
    // A shard that could not answer may hold the session: not found cannot be claimed.
    if (failure) throw failure;
    return undefined;
  }

  private searchOrder(id: string, owner: Shard): Shard[] {
    const first = this.previous?.owner(id);
    const rest = this.shardList().filter((s) => s !== owner && s.name !== first);
    const prev = first !== undefined && first !== owner.name ? this.shards.get(first) : undefined;
    return prev ? [prev, ...rest] : rest;
  }

  /** Copies a session found off its owner to the owner, then deletes the old copy and its index entry. */
  private async moveTo(owner: Shard, from: Located): Promise<Located> {
    const { rec } = from;
    const key = sessionKey(rec.id);
    let at: Located | undefined;
    for (let attempt = 0; !at; attempt++) {
      const ttl = secondsLeft(rec.expiresAt, this.now());
      const current = await this.read(owner, rec.id);
      const merged = merge(current?.rec, rec);
      if (current && sameState(merged, current.rec)) {
        at = current;
        break;
      }
      try {
        if (!merged.deleted) await owner.driver.set(ownerKey(merged.owner, merged.id), EMPTY, ttl);
        const dv = await owner.driver.setVersioned(key, encodeRecord(merged), ttl, current?.dv ?? "");
        at = { shard: owner, rec: merged, dv };
      } catch (err) {
        if (!isAborted(err) || attempt >= MAX_RETRIES) throw err;
      }
    }
    try {
      await from.shard.driver.deleteVersioned(key, from.dv);
      await from.shard.driver.delete(ownerKey(rec.owner, rec.id));
      this.opts.metrics?.moves.inc();
    } catch (err) {
      // Changed or deleted meanwhile (another move), or the old shard failed now: the pass looks again.
      if (!isAborted(err)) this.opts.logger.warn("session moved but its old copy stays for the next pass", { session: rec.id, shard: from.shard.name, err });
    }
    return at;
  }

  private beginMove(previous: HashRing | undefined): void {
    this.previous = previous;
    this.migrating = true;
    this.schedulePass(0);
  }

  private schedulePass(delayMs: number): void {
    if (this.closed || this.passTimer) return;
    this.passTimer = setTimeout(() => {
      this.passTimer = undefined;
      this.passRunning = this.pass().finally(() => {
        this.passRunning = undefined;
      });
    }, delayMs);
  }

  /** One background pass: every session off its owner is moved; a clean pass ends the move and records the ring. */
  private async pass(): Promise<void> {
    const epoch = this.epoch;
    await this.olderCallsDone(epoch);
    let failed = 0;
    const signal = new AbortController().signal;
    for (const shard of this.shardList()) {
      if (this.closed || this.epoch !== epoch) return this.schedulePass(0);
      try {
        const ids: string[] = [];
        for await (const e of shard.driver.scan({ prefix: SESSION_PREFIX, limit: 0, cursor: "", withValues: false, signal })) {
          const id = e.key.slice(SESSION_PREFIX.length);
          if (shard.draining || this.ring.owner(id) !== shard.name) ids.push(id);
        }
        for (const id of ids) {
          try {
            const found = await this.read(shard, id);
            if (found) await this.tracked(() => this.moveTo(this.ownerOf(id), found));
          } catch (err) {
            failed++;
            this.opts.logger.warn("background move failed; retried on the next pass", { session: id, shard: shard.name, err });
          }
        }
      } catch (err) {
        failed++;
        this.opts.logger.warn("background pass could not scan a shard; retried", { shard: shard.name, err });
      }
    }
    if (this.epoch !== epoch || this.closed) return this.schedulePass(0);
    if (failed > 0) return this.schedulePass(this.opts.rebalanceIntervalMs);
    const record = new TextEncoder().encode(JSON.stringify({ members: this.ring.members }));
    const recorded = await Promise.allSettled(this.shardList().map((s) => s.driver.set(RING_KEY, record, 0)));
    if (recorded.some((r) => r.status === "rejected")) return this.schedulePass(this.opts.rebalanceIntervalMs);
    if (this.epoch !== epoch) return this.schedulePass(0);
    this.migrating = false;
    this.previous = undefined;
    this.opts.logger.info("sessions moved to their shards", { shards: this.ring.members.join(",") });
  }

  /** Resolves when no call that started under a ring older than `epoch` is still running. */
  private olderCallsDone(epoch: number): Promise<void> {
    const busy = () => [...this.inflight].some(([e, n]) => e < epoch && n > 0);
    if (!busy()) return Promise.resolve();
    return new Promise((resolve) => {
      const check = () => (busy() ? this.idleWaiters.push(check) : resolve());
      this.idleWaiters.push(check);
    });
  }

  private async tracked<T>(fn: () => Promise<T>): Promise<T> {
    const epoch = this.epoch;
    this.inflight.set(epoch, (this.inflight.get(epoch) ?? 0) + 1);
    try {
      return await fn();
    } finally {
      const n = this.inflight.get(epoch)! - 1;
      if (n === 0) this.inflight.delete(epoch);
      else this.inflight.set(epoch, n);
      if (this.idleWaiters.length > 0) {
        const waiters = this.idleWaiters;
        this.idleWaiters = [];
        for (const w of waiters) w();
      }
    }
  }

  private async changed(rec: SessionRecord): Promise<void> {
    await this.onChange?.(rec);
  }

  private ringOf(shards: readonly Shard[]): HashRing {
    return new HashRing(
      shards
        .filter((s) => !s.draining)
        .map((s) => s.name)
        .sort(),
      this.opts.virtualNodes,
    );
  }
}
