import {
  versionMatches,
  versionMismatch,
  resourceExhausted,
  type BatchSetEntry,
  type KeyValueBasicDriver,
  type KeyValueBatchDriver,
  type KeyValueScanDriver,
  type KeyValueTTLDriver,
  type ScanEntry,
  type ScanOptions,
  type VersionedValue,
} from "@prism/sdk";
import { ownedBytes } from "./bytes";
import { SortedKeys } from "./sorted_keys";
import { TtlIndex } from "./ttl_index";

interface Entry {
  value: Uint8Array;
  /** Unix ms at which the key expires; 0 = never. */
  expiresAt: number;
  /**
   * When this entry's node in the expiry heap fires (0 = none). Never later than
   * expiresAt: a TTL pushed further out needs no new node, the early one
   * reschedules itself when it fires.
   */
  scheduledAt: number;
  /** Changes on every write of the value (a store-wide counter, so a deleted and re-created key never repeats one). */
  version: number;
  /** Stored with the value by setVersioned / batchSet; a plain set drops them. */
  tags?: Record<string, string>;
}

/**
 * The key-value part of the in-memory store: values with optional expiry,
 * prefix scans with a stable cursor, batches, and a `max_keys` bound.
 * Expired keys vanish on access (lazy expiry) and are reclaimed by `sweep`,
 * which the owner calls from one periodic timer; no timer per key.
 * Values handed out must not be mutated by callers.
 */
export class KvStore implements KeyValueBasicDriver, KeyValueTTLDriver, KeyValueScanDriver, KeyValueBatchDriver {
  private readonly map = new Map<string, Entry>();
  private readonly expiries = new TtlIndex();
  private readonly order = new SortedKeys((k) => this.map.has(k));
  /** Entries whose expiresAt is not 0 (so the heap's stale share is known). */
  private expiring = 0;
  private expiredTotal = 0;
  private lastVersion = 0;

  /**
   * `sweepLimit` bounds the expiry work of a read that sweeps first (count, and
   * the owner's health report), like the periodic sweep's `sweep_limit`.
   */
  constructor(
    readonly maxKeys: number,
    readonly sweepLimit = 10_000,
  ) {}

  /** Keys held, including expired ones not yet reclaimed (call sweep first for an exact figure). */
  get size(): number {
    return this.map.size;
  }

  /** Keys with an expiry. */
  get withTtl(): number {
    return this.expiring;
  }

  /** Keys removed because their TTL ran out, since start. */
  get expired(): number {
    return this.expiredTotal;
  }

  set(key: string, value: Uint8Array, ttlSeconds: number): void {
    const at = ttlSeconds > 0 ? Date.now() + ttlSeconds * 1000 : 0;
    const e = this.map.get(key);
    if (e !== undefined) {
      // Overwrite (even of an expired, unreclaimed entry) replaces value and TTL and needs no room.
      if (e.expiresAt !== 0) this.expiring--;
      e.value = ownedBytes(value);
      e.expiresAt = at;
      e.version = ++this.lastVersion;
      e.tags = undefined;
      if (at !== 0) this.schedule(key, e, at);
    } else {
      if (this.map.size >= this.maxKeys) this.makeRoom(1);
      const fresh: Entry = { value: ownedBytes(value), expiresAt: at, scheduledAt: 0, version: ++this.lastVersion };
      this.map.set(key, fresh);
      this.order.added(key);
      if (at !== 0) this.schedule(key, fresh, at);
    }
    if (at !== 0) this.expiring++;
  }

  get(key: string): Uint8Array | undefined {
    const e = this.map.get(key);
    if (e === undefined) return undefined;
    if (e.expiresAt !== 0 && e.expiresAt <= Date.now()) {
      this.remove(key, e, true);
      return undefined;
    }
    return e.value;
  }

  delete(key: string): boolean {
    const e = this.live(key);
    if (e === undefined) return false;
    this.remove(key, e, false);
    return true;
  }

  getVersioned(key: string): VersionedValue | undefined {
    const e = this.live(key);
    return e && (e.tags ? { value: e.value, version: String(e.version), tags: e.tags } : { value: e.value, version: String(e.version) });
  }

  /** Compare-and-set: ABORTED (versionMismatch) unless the key's version is `expected` ("" = absent). */
  setVersioned(key: string, value: Uint8Array, ttlSeconds: number, expected: string | undefined, tags?: Record<string, string>): string {
    this.check(key, expected);
    this.set(key, value, ttlSeconds);
    const e = this.map.get(key)!;
    if (tags && Object.keys(tags).length > 0) e.tags = { ...tags };
    return String(e.version);
  }

  deleteVersioned(key: string, expected: string | undefined): boolean {
    this.check(key, expected);
    return this.delete(key);
  }

  private check(key: string, expected: string | undefined): void {
    if (expected === undefined) return;
    const e = this.live(key);
    const current = e && String(e.version);
    if (!versionMatches(expected, current)) throw versionMismatch(key, expected, current);
  }

  exists(key: string): boolean {
    return this.live(key) !== undefined;
  }

  expire(key: string, ttlSeconds: number): boolean {
    const e = this.live(key);
    if (e === undefined) return false;
    if (ttlSeconds <= 0) {
      this.remove(key, e, false);
      return true;
    }
    if (e.expiresAt === 0) this.expiring++;
    e.expiresAt = Date.now() + ttlSeconds * 1000;
    this.schedule(key, e, e.expiresAt);
    return true;
  }

  getTTL(key: string): number {
    const e = this.live(key);
    if (e === undefined) return -2;
    if (e.expiresAt === 0) return -1;
    // Rounded up, so a fresh key with TTL 10 reports 10 and a live key never reports 0.
    return Math.ceil((e.expiresAt - Date.now()) / 1000);
  }

  persist(key: string): boolean {
    const e = this.live(key);
    if (e === undefined || e.expiresAt === 0) return false;
    // Its heap node stays and is dropped when it fires.
    e.expiresAt = 0;
    this.expiring--;
    return true;
  }

  /**
   * Entries in key order (UTF-16 code units) from after the cursor; the cursor is
   * the last key of the previous page, so pages never overlap or skip a key that
   * exists throughout, even while keys are added.
   */
  *scan(opts: ScanOptions): Iterable<ScanEntry> {
    const { prefix, limit, withValues, signal } = opts;
    // Start after the cursor, or at the prefix when the cursor sorts before it.
    const afterCursor = opts.cursor !== "" && opts.cursor >= prefix;
    const keys = this.order.cursor(afterCursor ? opts.cursor : prefix, afterCursor);
    const now = Date.now();
    let held: ScanEntry | undefined;
    let sent = 0;
    for (let key = keys.next(); key !== undefined && !signal.aborted; key = keys.next()) {
      if (!key.startsWith(prefix)) break;
      const e = this.map.get(key);
      if (e === undefined) continue;
      if (e.expiresAt !== 0 && e.expiresAt <= now) {
        this.remove(key, e, true);
        continue;
      }
      if (held !== undefined) {
        // Another entry follows `held`: if held completes the page, it carries the cursor.
        if (limit > 0 && sent + 1 === limit) {
          held.nextCursor = held.key;
          yield held;
          return;
        }
        yield held;
        sent++;
      }
      held = withValues ? (e.tags ? { key, value: e.value, tags: e.tags } : { key, value: e.value }) : { key };
    }
    if (held !== undefined && !signal.aborted) yield held;
  }

  /**
   * Live keys with the prefix. Sweeps at most `sweepLimit` heap nodes first;
   * expired keys the sweep did not reach are not counted.
   */
  count(prefix: string): number {
    const now = Date.now();
    const swept = this.sweep(now, this.sweepLimit);
    // Nothing due left: every key in the map is live.
    if (prefix === "" && swept) return this.map.size;
    let n = 0;
    if (prefix === "") {
      for (const e of this.map.values()) if (e.expiresAt === 0 || e.expiresAt > now) n++;
      return n;
    }
    const keys = this.order.cursor(prefix, false);
    for (let key = keys.next(); key !== undefined; key = keys.next()) {
      if (!key.startsWith(prefix)) break;
      const e = this.map.get(key);
      if (e !== undefined && (e.expiresAt === 0 || e.expiresAt > now)) n++;
    }
    return n;
  }

  /** All or nothing with respect to capacity: refused whole when the new keys do not fit. */
  batchSet(entries: BatchSetEntry[]): void {
    if (this.map.size + entries.length > this.maxKeys) {
      const fresh = this.newKeys(entries);
      if (this.map.size + fresh > this.maxKeys) {
        this.sweep(Date.now(), Infinity);
        const after = this.newKeys(entries);
        if (this.map.size + after > this.maxKeys) throw this.full(after);
      }
    }
    for (const e of entries) {
      this.set(e.key, e.value, e.ttlSeconds);
      if (e.tags && Object.keys(e.tags).length > 0) this.map.get(e.key)!.tags = { ...e.tags };
    }
  }

  batchGet(keys: string[]): (Uint8Array | undefined)[] {
    return keys.map((k) => this.get(k));
  }

  batchDelete(keys: string[]): boolean[] {
    return keys.map((k) => this.delete(k));
  }

  /**
   * Reclaims keys whose TTL ran out by `now`, handling at most `limit` heap nodes
   * (stale ones included). Returns true when nothing due is left.
   */
  sweep(now: number, limit: number): boolean {
    this.expiries.popDue(now, limit, (key, at) => {
      const e = this.map.get(key);
      // Not this entry's node: the key was deleted (and maybe set again) or rescheduled earlier.
      if (e === undefined || e.scheduledAt !== at) return;
      e.scheduledAt = 0;
      if (e.expiresAt === 0) return;
      if (e.expiresAt <= now) this.remove(key, e, true);
      else this.schedule(key, e, e.expiresAt);
    });
    return this.expiries.peekAt() > now;
  }

  clear(): void {
    this.map.clear();
    this.expiries.clear();
    this.order.clear();
    this.expiring = 0;
  }

  private live(key: string): Entry | undefined {
    const e = this.map.get(key);
    if (e === undefined) return undefined;
    if (e.expiresAt !== 0 && e.expiresAt <= Date.now()) {
      this.remove(key, e, true);
      return undefined;
    }
    return e;
  }

  private remove(key: string, e: Entry, expired: boolean): void {
    this.map.delete(key);
    this.order.removed();
    if (e.expiresAt !== 0) this.expiring--;
    if (expired) this.expiredTotal++;
  }

  /** Makes sure the entry's heap node fires no later than `at`. */
  private schedule(key: string, e: Entry, at: number): void {
    if (e.scheduledAt !== 0 && e.scheduledAt <= at) return;
    e.scheduledAt = at;
    this.expiries.push(at, key);
    // Deleted keys and shortened TTLs leave stale nodes; drop them once they dominate.
    if (this.expiries.size > 1024 + 2 * this.map.size) {
      // A key deleted and set again within one millisecond can match twice: keep one.
      const kept = new Set<string>();
      this.expiries.compact((k, a) => {
        if (this.map.get(k)?.scheduledAt !== a || kept.has(k)) return false;
        kept.add(k);
        return true;
      });
    }
  }

  /** Reclaims expired keys when the store is full; throws RESOURCE_EXHAUSTED if that is not enough. */
  private makeRoom(needed: number): void {
    this.sweep(Date.now(), Infinity);
    if (this.map.size + needed > this.maxKeys) throw this.full(needed);
  }

  private newKeys(entries: BatchSetEntry[]): number {
    const fresh = new Set<string>();
    for (const e of entries) if (!this.map.has(e.key)) fresh.add(e.key);
    return fresh.size;
  }

  private full(needed: number) {
    return resourceExhausted(
      `memstore is full: ${this.map.size} of max_keys ${this.maxKeys} keys in use, ${needed} more requested; delete keys or raise max_keys`,
    );
  }
}
