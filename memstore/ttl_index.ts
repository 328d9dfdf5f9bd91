/**
 * Expiry times of keys as a binary min-heap, so the store needs one timer in all
 * rather than one per key. Entries are never removed on overwrite, persist or
 * delete: the caller checks on pop whether an entry is still current (lazy
 * invalidation), and `compact` drops the stale ones so the heap cannot grow
 * without bound when the same keys are rewritten with TTLs again and again.
 */
export class TtlIndex {
  // Parallel arrays rather than {at, key} objects: no allocation per push.
  private ats: number[] = [];
  private keys: string[] = [];

  /** Entries in the heap, stale ones included. */
  get size(): number {
    return this.ats.length;
  }

  /** Records that `key` expires at `at` (ms). */
  push(at: number, key: string): void {
    const ats = this.ats;
    const keys = this.keys;
    let i = ats.length;
    ats.push(at);
    keys.push(key);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const pa = ats[parent]!;
      if (pa <= at) break;
      ats[i] = pa;
      keys[i] = keys[parent]!;
      i = parent;
    }
    ats[i] = at;
    keys[i] = key;
  }

  /** The earliest expiry, or Infinity when empty. */
  peekAt(): number {
    return this.ats.length > 0 ? this.ats[0]! : Infinity;
  }

  /**
   * Pops entries due at or before `now`, at most `limit`, calling `onDue(key, at)`
   * for each (the caller decides whether the entry is still current).
   * Returns how many were popped.
   */
  popDue(now: number, limit: number, onDue: (key: string, at: number) => void): number {
    let n = 0;
    while (n < limit && this.ats.length > 0 && this.ats[0]! <= now) {
      const at = this.ats[0]!;
      const key = this.keys[0]!;
      this.removeTop();
      onDue(key, at);
      n++;
    }
    return n;
  }

  /** Keeps only the entries for which `isCurrent` holds, in O(n). */
  compact(isCurrent: (key: string, at: number) => boolean): void {
    const ats: number[] = [];
    const keys: string[] = [];
    for (let i = 0; i < this.ats.length; i++) {
      if (isCurrent(this.keys[i]!, this.ats[i]!)) {
        ats.push(this.ats[i]!);
        keys.push(this.keys[i]!);
      }
    }
    this.ats = ats;
    this.keys = keys;
    for (let i = (ats.length >> 1) - 1; i >= 0; i--) this.siftDown(i);
  }

  clear(): void {
    this.ats = [];
    this.keys = [];
  }

  private removeTop(): void {
    const lastAt = this.ats.pop()!;
    const lastKey = this.keys.pop()!;
    if (this.ats.length === 0) return;
    this.ats[0] = lastAt;
    this.keys[0] = lastKey;
    this.siftDown(0);
  }

  private siftDown(i: number): void {
    const ats = this.ats;
    const keys = this.keys;
    const n = ats.length;
    const at = ats[i]!;
    const key = keys[i]!;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      const right = left + 1;
      const child = right < n && ats[right]! < ats[left]! ? right : left;
      if (ats[child]! >= at) break;
      ats[i] = ats[child]!;
      keys[i] = keys[child]!;
      i = child;
    }
    ats[i] = at;
    keys[i] = key;
  }
}
