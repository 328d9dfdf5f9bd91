import { expect, test } from "bun:test";
import { BoundedMap } from "./bounded_map";

test("BoundedMap forgets the least recently set entries beyond its bound", () => {
  const m = new BoundedMap<string, number>(2);
  m.set("a", 1);
  m.set("b", 2);
  m.set("a", 3);
  m.set("c", 4);
  expect(m.has("b")).toBe(false);
  expect(m.get("a")).toBe(3);
  expect(m.get("c")).toBe(4);
  expect(m.size).toBe(2);
  expect(m.delete("a")).toBe(true);
  expect(m.size).toBe(1);
});
