/**
 * The keys of a store in sorted order (UTF-16 code units), for scans whose
 * cursor is the last key returned: the next page starts after it, so paging
 * never repeats a key and never misses one that existed throughout, whatever is
 * added or deleted meanwhile.
 *
 * Two arrays: `sorted`, the bulk, and `pending`, keys added since the last
 * merge. While nobody scans, additions are only pushed (pending unordered) and
 * merged geometrically, so filling a store costs O(log n) per key amortised.
 * Once a scan needs the order, pending is sorted and later additions are
 * inserted in place, so a scan page reads both arrays in step without copying
 * the bulk; pending is merged into `sorted` only when it outgrows
 * `pendingLimit` (about 2·√n). Deleted keys stay until a merge drops them;
 * readers skip them by asking `isLive`. `sorted` and a sorted `pending` never
 * hold the same key.
 */
export class SortedKeys {
  private sorted: string[] = [];
  private pending: string[] = [];
  /** Whether `pending` is in order (and free of keys in `sorted` or repeated). */
  private pendingOrdered = true;
  /** Whether a cursor asked for the order since the last merge. */
  private scanned = false;
  /** Deletions not yet dropped by a merge (an upper bound: re-added keys may count). */
  private deletes = 0;
  private version = 0;

  constructor(private readonly isLive: (key: string) => boolean) {}

  /** A key entered the store (not called on overwrite). */
  added(key: string): void {
    this.version++;
    if (!this.pendingOrdered) {
      this.pending.push(key);
      // Bounds memory when keys come and go without scans; amortised O(log n) per key.
      if (this.pending.length > 1024 && this.pending.length > this.sorted.length) this.merge();
      return;
    }
    const s = lowerBound(this.sorted, key);
    // A deleted key added again: its old place serves.
    if (this.sorted[s] === key) return this.revived();
    const p = lowerBound(this.pending, key);
    if (this.pending[p] === key) return this.revived();
    this.pending.splice(p, 0, key);
    if (this.pending.length > this.pendingLimit()) this.merge();
  }

  /** A key left the store. */
  removed(): void {
    this.deletes++;
    // Dead keys only cost memory and skipping; drop them once they are a third of what is held.
    if (this.deletes > 1024 + ((this.sorted.length + this.pending.length) >> 1)) this.merge();
  }

  /**
   * A cursor over the keys, starting at the first key >= `from` (or > `from`
   * when `exclusive`). It may return keys deleted since (check with isLive) and
   * stays correct while keys are added, deleted or merged between calls.
   */
  cursor(from: string, exclusive: boolean): KeyCursor {
    return new KeyCursor(this, from, exclusive);
  }

  clear(): void {
    this.sorted = [];
    this.pending = [];
    this.pendingOrdered = true;
    this.scanned = false;
    this.deletes = 0;
    this.version++;
  }

  /** Changes whenever a cursor's positions may have become wrong. */
  get changes(): number {
    return this.version;
  }

  /** For KeyCursor: brings pending in order and returns the state to seek in. */
  ordered(): SortedState {
    this.scanned = true;
    if (!this.pendingOrdered) this.orderPending();
    if (this.pending.length > this.pendingLimit()) this.merge();
    return { sorted: this.sorted, pending: this.pending, version: this.version };
  }

  /** Most pending keys while scanning: inserting costs O(limit), merging O(n) every `limit` additions. */
  private pendingLimit(): number {
    return Math.max(1024, 2 * Math.sqrt(this.sorted.length));
  }

  private revived(): void {
    if (this.deletes > 0) this.deletes--;
  }

  /** Sorts pending and drops repeats and keys that `sorted` holds already (deleted and added again). */
  private orderPending(): void {
    const p = this.pending.sort();
    let n = 0;
    for (let i = 0; i < p.length; i++) {
      const k = p[i]!;
      if (n > 0 && p[n - 1] === k) continue;
      if (this.sorted[lowerBound(this.sorted, k)] === k) continue;
      p[n++] = k;
    }
    p.length = n;
    this.pendingOrdered = true;
    this.version++;
  }

  private merge(): void {
    const a = this.sorted;
    // Default sort compares UTF-16 code units, the same order as `<` below.
    const b = this.pendingOrdered ? this.pending : this.pending.sort();
    const out: string[] = [];
    let i = 0;
    let j = 0;
    let last: string | undefined;
    const take = (k: string) => {
      // Unordered pending may repeat a key or hold one of `sorted`: keep one copy.
      if (k !== last && this.isLive(k)) out.push(k);
      last = k;
    };
    while (i < a.length && j < b.length) take(a[i]! <= b[j]! ? a[i++]! : b[j++]!);
    while (i < a.length) take(a[i++]!);
    while (j < b.length) take(b[j++]!);
    this.sorted = out;
    this.pending = [];
    // Keep inserting in order only while scans happen; a stretch of additions alone goes back to pushing.
    this.pendingOrdered = this.scanned;
    this.scanned = false;
    this.deletes = 0;
    this.version++;
  }
}

/** What a cursor seeks in: both arrays (in order, disjoint) as of `version`. */
interface SortedState {
  sorted: readonly string[];
  pending: readonly string[];
  version: number;
}

/**
 * Walks the keys of a SortedKeys in order, reading `sorted` and `pending` in
 * step. After any change to them it seeks again from the last key returned,
 * so it never returns a key twice or skips one that is held throughout.
 */
export class KeyCursor {
  private version = -1;
  private sorted: readonly string[] = [];
  private pending: readonly string[] = [];
  private i = 0;
  private j = 0;

  constructor(
    private readonly keys: SortedKeys,
    private last: string,
    private exclusive: boolean,
  ) {}

  /** The next key, or undefined at the end. */
  next(): string | undefined {
    if (this.version !== this.keys.changes) this.seek();
    const s = this.sorted;
    const p = this.pending;
    let key: string;
    if (this.i < s.length && (this.j >= p.length || s[this.i]! < p[this.j]!)) key = s[this.i++]!;
    else if (this.j < p.length) key = p[this.j++]!;
    else return undefined;
    this.last = key;
    this.exclusive = true;
    return key;
  }

  private seek(): void {
    const state = this.keys.ordered();
    const bound = this.exclusive ? upperBound : lowerBound;
    this.sorted = state.sorted;
    this.pending = state.pending;
    this.i = bound(state.sorted, this.last);
    this.j = bound(state.pending, this.last);
    this.version = state.version;
  }
}

/** Index of the first key >= `key` (keys sorted by UTF-16 code units). */
export function lowerBound(keys: readonly string[], key: string): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keys[mid]! < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Index of the first key > `key`. */
export function upperBound(keys: readonly string[], key: string): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keys[mid]! <= key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
