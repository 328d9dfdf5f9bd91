import { describe, expect, test } from "bun:test";
import { Code, PrismError } from "../sdk/grpc/errors";
import { Deque } from "./deque";
import { ListStore } from "./list_store";

const b = (s: string) => new TextEncoder().encode(s);
const strs = (vs: Uint8Array[]) => vs.map((v) => new TextDecoder().decode(v));

describe("Deque", () => {
  test("matches an array model through wrap-around and growth", () => {
    const d = new Deque<number>(2);
    const model: number[] = [];
    let n = 0;
    for (let step = 0; step < 5000; step++) {
      const op = (step * 7919) % 5;
      if (op === 0) d.pushBack(n), model.push(n++);
      else if (op === 1) d.pushFront(n), model.unshift(n++);
      else if (op === 2) expect(d.popFront()).toBe(model.shift());
      else if (op === 3 && step % 3 === 0) expect(d.popBack()).toBe(model.pop());
      else d.pushBack(n), model.push(n++);
      expect(d.length).toBe(model.length);
    }
    expect(Array.from({ length: d.length }, (_, i) => d.at(i))).toEqual(model);
    while (model.length > 0) expect(d.popBack()).toBe(model.pop());
    expect(d.popFront()).toBeUndefined();
    expect(d.popBack()).toBeUndefined();
  });
});

describe("ListStore", () => {
  test("push on both ends (LPUSH order), length, range", () => {
    const ls = new ListStore(10);
    expect(ls.pushRight("l", [b("a"), b("b"), b("c")])).toBe(3);
    expect(ls.pushLeft("l", [b("x"), b("y")])).toBe(5);
    expect(strs(ls.range("l", 0, -1))).toEqual(["y", "x", "a", "b", "c"]);
    expect(ls.length("l")).toBe(5);
    expect(ls.items).toBe(5);
  });

  test("range follows LRANGE for negative and out-of-range indexes", () => {
    const ls = new ListStore(10);
    ls.pushRight("l", ["0", "1", "2", "3", "4"].map(b));
    const r = (start: number, stop: number) => strs(ls.range("l", start, stop)).join("");
    expect(r(0, 0)).toBe("0");
    expect(r(1, 3)).toBe("123");
    expect(r(-2, -1)).toBe("34");
    expect(r(-100, 100)).toBe("01234");
    expect(r(3, 1)).toBe("");
    expect(r(5, 10)).toBe("");
    expect(r(-1, -2)).toBe("");
    expect(r(0, -6)).toBe("");
    expect(ls.range("missing", 0, -1)).toEqual([]);
  });

  test("pop from both ends with counts; an emptied list ceases to exist", () => {
    const ls = new ListStore(10);
    ls.pushRight("l", ["a", "b", "c", "d"].map(b));
    expect(strs(ls.popLeft("l", 1))).toEqual(["a"]);
    expect(strs(ls.popRight("l", 2))).toEqual(["d", "c"]);
    expect(strs(ls.popRight("l", 10))).toEqual(["b"]);
    expect(ls.length("l")).toBe(0);
    expect(ls.size).toBe(0);
    expect(ls.items).toBe(0);
    expect(ls.popLeft("l", 1)).toEqual([]);
  });

  test("a new list beyond max_lists is RESOURCE_EXHAUSTED; existing lists still grow", () => {
    const ls = new ListStore(1);
    ls.pushRight("a", [b("1")]);
    let code: number | undefined;
    try {
      ls.pushRight("b", [b("1")]);
    } catch (err) {
      code = PrismError.from(err).code;
    }
    expect(code).toBe(Code.RESOURCE_EXHAUSTED);
    expect(ls.pushLeft("a", [b("0")])).toBe(2);
    expect(ls.pushRight("b", [])).toBe(0);
  });
});
