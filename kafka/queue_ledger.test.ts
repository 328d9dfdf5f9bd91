import { describe, expect, test } from "bun:test";
import { PartitionLedger } from "./queue_ledger";

describe("PartitionLedger", () => {
  test("nothing to commit before the first fetch", () => {
    expect(new PartitionLedger().commitPoint()).toBeUndefined();
  });

  test("commits below the lowest unfinished offset, whatever finishes after it", () => {
    const l = new PartitionLedger();
    for (const o of [5, 6, 7, 9]) l.fetched(o);
    expect(l.commitPoint()).toBe(5);
    expect(l.finish(6)).toBe(true);
    expect(l.finish(9)).toBe(true);
    expect(l.commitPoint()).toBe(5);
    expect(l.outstanding).toBe(2);
    expect(l.finishedAbove).toBe(2);
    expect(l.accepts(9)).toBe(false);
    expect(l.accepts(10)).toBe(true);
    expect(l.finish(5)).toBe(true);
    expect(l.commitPoint()).toBe(7);
    expect(l.finish(7)).toBe(true);
    // Everything finished: one past the highest fetched (the gap at 8 is a compacted offset).
    expect(l.commitPoint()).toBe(10);
    expect(l.outstanding).toBe(0);
  });

  test("finishing twice, or an offset never fetched, changes nothing", () => {
    const l = new PartitionLedger();
    l.fetched(0);
    l.fetched(1);
    expect(l.finish(1)).toBe(true);
    expect(l.finish(1)).toBe(false);
    expect(l.finish(7)).toBe(false);
    expect(l.outstanding).toBe(1);
    expect(l.commitPoint()).toBe(0);
  });

  test("refuses an offset fetched out of order", () => {
    const l = new PartitionLedger();
    l.fetched(3);
    expect(() => l.fetched(2)).toThrow(/out of order/);
  });

  test("stays exact across compaction of long runs", () => {
    const l = new PartitionLedger();
    for (let o = 0; o < 5000; o++) l.fetched(o);
    for (let o = 1; o < 5000; o++) expect(l.finish(o)).toBe(true);
    expect(l.commitPoint()).toBe(0);
    expect(l.finish(0)).toBe(true);
    expect(l.commitPoint()).toBe(5000);
    l.fetched(5000);
    expect(l.commitPoint()).toBe(5000);
    expect(l.finish(5000)).toBe(true);
    expect(l.commitPoint()).toBe(5001);
  });
});
