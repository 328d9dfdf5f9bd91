import { expect, setSystemTime, test } from "bun:test";
import { MapDriver } from "./driver";

const bytes = (s: string) => new TextEncoder().encode(s);

test("set, get, exists, delete", () => {
  const d = new MapDriver();
  d.set("k", bytes("v"), 0);
  expect(d.get("k")).toEqual(bytes("v"));
  expect(d.exists("k")).toBe(true);
  expect(d.delete("k")).toBe(true);
  expect(d.delete("k")).toBe(false);
  expect(d.get("k")).toBeUndefined();
});

test("a key past its TTL is gone", () => {
  const d = new MapDriver();
  d.set("k", bytes("v"), 1);
  expect(d.exists("k")).toBe(true);
  setSystemTime(new Date(Date.now() + 1_001));
  try {
    expect(d.exists("k")).toBe(false);
  } finally {
    setSystemTime();
  }
});
