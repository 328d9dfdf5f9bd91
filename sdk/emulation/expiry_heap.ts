/** Keys by expiry time, earliest first, holding at most `bound` entries (a binary min-heap). */
export class ExpiryHeap {
  private readonly at: number[] = [];
  private readonly keys: string[] = [];

  constructor(private readonly bound: number) {}

  get size(): number {
    return this.at.length;
  }

  /** False when the heap is full (the key is then reclaimed only when it is read). */
  push(key: string, expiresAt: number): boolean {
    if (this.at.length >= this.bound) return false;
    let i = this.at.length;
    this.at.push(expiresAt);
    this.keys.push(key);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (this.at[p]! <= this.at[i]!) break;
      this.swap(i, p);
      i = p;
    }
    return true;
  }

  /** Removes and returns the earliest entry due at `now`, if any. */
  popDue(now: number): { key: string; expiresAt: number } | undefined {
    if (this.at.length === 0 || this.at[0]! > now) return undefined;
    const out = { key: this.keys[0]!, expiresAt: this.at[0]! };
    const lastAt = this.at.pop()!;
    const lastKey = this.keys.pop()!;
    if (this.at.length > 0) {
      this.at[0] = lastAt;
      this.keys[0] = lastKey;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < this.at.length && this.at[l]! < this.at[m]!) m = l;
        if (r < this.at.length && this.at[r]! < this.at[m]!) m = r;
        if (m === i) break;
        this.swap(i, m);
        i = m;
      }
    }
    return out;
  }

  private swap(i: number, j: number): void {
    [this.at[i], this.at[j]] = [this.at[j]!, this.at[i]!];
    [this.keys[i], this.keys[j]] = [this.keys[j]!, this.keys[i]!];
  }
}
