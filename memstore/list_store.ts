import { resourceExhausted, type ListDriver } from "@prism/sdk";
import { ownedBytes } from "./bytes";
import { Deque } from "./deque";

/**
 * Lists of byte values by key, with Redis list semantics: LPUSH order on
 * pushLeft, LRANGE indexes on range, and a list that pops empty ceases to exist.
 * Lists live in their own key space (a key may name a value and a list at once)
 * bounded by `max_lists`.
 */
export class ListStore implements ListDriver {
  private readonly lists = new Map<string, Deque<Uint8Array>>();
  private itemCount = 0;

  constructor(readonly maxLists: number) {}

  /** Lists held. */
  get size(): number {
    return this.lists.size;
  }

  /** Values across all lists. */
  get items(): number {
    return this.itemCount;
  }

  pushLeft(key: string, values: Uint8Array[]): number {
    if (values.length === 0) return this.length(key);
    const list = this.listFor(key);
    for (const v of values) list.pushFront(ownedBytes(v));
    this.itemCount += values.length;
    return list.length;
  }

  pushRight(key: string, values: Uint8Array[]): number {
    if (values.length === 0) return this.length(key);
    const list = this.listFor(key);
    for (const v of values) list.pushBack(ownedBytes(v));
    this.itemCount += values.length;
    return list.length;
  }

  popLeft(key: string, count: number): Uint8Array[] {
    return this.pop(key, count, (l) => l.popFront());
  }

  popRight(key: string, count: number): Uint8Array[] {
    return this.pop(key, count, (l) => l.popBack());
  }

  length(key: string): number {
    return this.lists.get(key)?.length ?? 0;
  }

  /** Inclusive range; negative indexes count from the tail; out-of-range parts are clipped (LRANGE). */
  range(key: string, start: number, stop: number): Uint8Array[] {
    const list = this.lists.get(key);
    if (list === undefined) return [];
    const n = list.length;
    if (start < 0) start = Math.max(0, n + start);
    if (stop < 0) stop = n + stop;
    if (stop >= n) stop = n - 1;
    const out: Uint8Array[] = [];
    for (let i = start; i <= stop; i++) out.push(list.at(i));
    return out;
  }

  clear(): void {
    this.lists.clear();
    this.itemCount = 0;
  }

  private listFor(key: string): Deque<Uint8Array> {
    let list = this.lists.get(key);
    if (list === undefined) {
      if (this.lists.size >= this.maxLists) {
        throw resourceExhausted(`memstore is full: ${this.lists.size} of max_lists ${this.maxLists} lists in use; pop lists empty or raise max_lists`);
      }
      list = new Deque();
      this.lists.set(key, list);
    }
    return list;
  }

  private pop(key: string, count: number, take: (l: Deque<Uint8Array>) => Uint8Array | undefined): Uint8Array[] {
    const list = this.lists.get(key);
    if (list === undefined) return [];
    const out: Uint8Array[] = [];
    while (out.length < count && list.length > 0) out.push(take(list)!);
    this.itemCount -= out.length;
    if (list.length === 0) this.lists.delete(key);
    return out;
  }
}
