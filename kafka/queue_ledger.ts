/**
 * What a Kafka queue group may commit on one partition: offsets are committed only below the lowest message that
 * is not finished (acked or dead-lettered), so whatever a crash or a rebalance interrupts is fetched again from the
 * committed offset. Offsets are recorded in the order they were fetched (ascending; gaps from compaction or
 * transaction markers are fine).
 */
export class PartitionLedger {
  /** Fetched offsets not yet dropped from the front, ascending, with whether each is finished. */
  private readonly offsets: number[] = [];
  private readonly done: boolean[] = [];
  private head = 0;
  /** One past the highest offset fetched; -1 before the first. */
  private next = -1;
  private unfinished = 0;

  /** Records a fetched offset (ascending). */
  fetched(offset: number): void {
    if (offset < this.next) throw new Error(`offset ${offset} fetched out of order (after ${this.next - 1})`);
    this.offsets.push(offset);
    this.done.push(false);
    this.next = offset + 1;
    this.unfinished++;
  }

  /** Marks an offset finished; false when it was not outstanding (already finished or never fetched). */
  finish(offset: number): boolean {
    const i = this.indexOf(offset);
    if (i < 0 || this.done[i]) return false;
    this.done[i] = true;
    this.unfinished--;
    while (this.head < this.offsets.length && this.done[this.head]) this.head++;
    // Compact now and then so the arrays do not grow with every message ever fetched.
    if (this.head > 1024 && this.head * 2 > this.offsets.length) {
      this.offsets.splice(0, this.head);
      this.done.splice(0, this.head);
      this.head = 0;
    }
    return true;
  }

  /** True when `offset` is past every offset fetched so far (else it was fetched already). */
  accepts(offset: number): boolean {
    return offset >= this.next;
  }

  /** Finished offsets above the commit point: committed only once everything below them is finished. */
  get finishedAbove(): number {
    return this.offsets.length - this.head - this.unfinished;
  }

  /** Fetched and not finished. */
  get outstanding(): number {
    return this.unfinished;
  }

  /** The offset to commit: the lowest unfinished one, else one past the highest fetched; undefined before any fetch. */
  commitPoint(): number | undefined {
    if (this.next < 0) return undefined;
    return this.head < this.offsets.length ? this.offsets[this.head] : this.next;
  }

  private indexOf(offset: number): number {
    let lo = this.head;
    let hi = this.offsets.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const v = this.offsets[mid]!;
      if (v === offset) return mid;
      if (v < offset) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }
}
