import { describe, expect, test } from "bun:test";
import { Code, PrismError } from "../sdk/grpc/errors";
import { CursorCodec } from "./cursor";

function codeOf(fn: () => unknown): number | undefined {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(PrismError);
    return (e as PrismError).code;
  }
  return undefined;
}

describe("scan cursor", () => {
  const codec = new CursorCodec("ns:", "secret");

  test("round-trips every field, including keys with any characters", () => {
    for (const p of [
      { node: "", redisCursor: "0", count: 16, pending: ["a"] },
      { node: "127.0.0.1:7001", redisCursor: "18446744073709551615", count: 1000, pending: ["user/42", "user/43"] },
      { node: "", redisCursor: "123", count: 1, pending: ['ключ"\\\n😀', ""] },
    ]) {
      expect(codec.decode(codec.encode(p))).toEqual(p);
    }
  });

  test("is URL-safe text", () => {
    expect(codec.encode({ node: "n", redisCursor: "77", count: 9, pending: ["a/b+c?="] })).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
  });

  test("a cursor made under another secret, another key prefix, or edited is INVALID_ARGUMENT", () => {
    const p = { node: "", redisCursor: "5", count: 10, pending: ["a", "b"] };
    const c = codec.encode(p);
    expect(codeOf(() => new CursorCodec("ns:", "other").decode(c))).toBe(Code.INVALID_ARGUMENT);
    expect(codeOf(() => new CursorCodec("other:", "secret").decode(c))).toBe(Code.INVALID_ARGUMENT);
    expect(codeOf(() => new CursorCodec("ns:").decode(c))).toBe(Code.INVALID_ARGUMENT);
    const [payload, mac] = c.split(".");
    const edited = Buffer.from(JSON.stringify([3, "", "5", 10, ["a", "b", "c"]])).toString("base64url");
    expect(edited).not.toBe(payload);
    expect(codeOf(() => codec.decode(`${edited}.${mac}`))).toBe(Code.INVALID_ARGUMENT);
  });

  test("a forged 2.7 MB cursor is refused at once", () => {
    const pending = Array.from({ length: 200_000 }, (_, i) => `k${i}`);
    const forged = `${Buffer.from(JSON.stringify([3, "", "0", 200_000, pending])).toString("base64url")}.AAAAAAAAAAAAAAAAAAAAAA`;
    expect(forged.length).toBeGreaterThan(2_000_000);
    const t0 = performance.now();
    expect(codeOf(() => codec.decode(forged))).toBe(Code.INVALID_ARGUMENT);
    expect(performance.now() - t0).toBeLessThan(1000);
  });

  test("garbage is INVALID_ARGUMENT", () => {
    for (const bad of ["not a cursor", "", ".", "abc.", ".abc", "a.b.c", "💥.💥"]) {
      expect(codeOf(() => codec.decode(bad))).toBe(Code.INVALID_ARGUMENT);
    }
  });

  test("signed but out of range fields are still refused (a leaked secret cannot make Redis fail)", () => {
    for (const p of [
      { node: "", redisCursor: "18446744073709551616", count: 10, pending: ["a"] },
      { node: "", redisCursor: "abc", count: 10, pending: ["a"] },
      { node: "", redisCursor: "1", count: 0, pending: ["a"] },
      { node: "", redisCursor: "1", count: 1_000_000, pending: ["a"] },
      { node: "", redisCursor: "1", count: 10, pending: [] },
    ]) {
      expect(codeOf(() => codec.decode(codec.encode(p)))).toBe(Code.INVALID_ARGUMENT);
    }
  });
});
