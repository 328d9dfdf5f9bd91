/**
 * The keys of a store in sorted order, for scans whose cursor is the last key
 * returned: the next page starts after it, so paging never repeats a key and
 * never misses one that existed throughout, whatever is added or deleted
 * meanwhile. Keeping the order costs the write path nothing but a push: new
 * keys wait in `pending` and are sorted and merged when a scan needs the order
 * (or when `pending` grows past the sorted part). Deleted keys are filtered out
 * on merge; until then readers skip them by asking `isLive`.
 */
export class SortedKeys {
  private sorted: string[] = [];
  private pending: string[] = [];
  private deletes = 0;

  constructor(private readonly isLive: (key: string) => boolean) {}

  /** A key entered the store (not called on overwrite). */
  added(key: string): void {
    this.pending.push(key);
    // Bounds memory when keys come and go without scans; amortised O(log n) per key.
    if (this.pending.length > 1024 && this.pending.length > this.sorted.length) this.merge();
  }

  /** A key left the store. */
  removed(): void {
    this.deletes++;
  }

  /**
   * The keys in sorted order. The array may hold keys deleted since (check with
   * isLive) and is never mutated afterwards, so a scan may keep using it.
   */
  snapshot(): readonly string[] {
    if (this.pending.length > 0 || this.deletes > 1024 + (this.sorted.length >> 1)) this.merge();
    return this.sorted;
  }

  clear(): void {
    this.sorted = [];
    this.pending = [];
    this.deletes = 0;
  }

  private merge(): void {
    const a = this.sorted;
    // Default sort compares UTF-16 code units, the same order as `<` below.
    const b = this.pending.sort();
    const out: string[] = [];
    let i = 0;
    let j = 0;
    let last: string | undefined;
    const take = (k: string) => {
      // A key deleted and added again is in both lists: keep one copy.
      if (k !== last && this.isLive(k)) out.push(k);
      last = k;
    };
    while (i < a.length && j < b.length) take(a[i]! <= b[j]! ? a[i++]! : b[j++]!);
    while (i < a.length) take(a[i++]!);
    while (j < b.length) take(b[j++]!);
    this.sorted = out;
    this.pending = [];
    this.deletes = 0;
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
