import { describe, expect, test } from "bun:test";
import { Code, PrismError } from "../sdk/grpc/errors";
import { decodeCursor, encodeCursor } from "./cursor";

describe("scan cursor", () => {
  test("round-trips every field, including keys with any characters", () => {
    for (const p of [
      { node: "", redisCursor: "0", count: 16, pending: ["a"] },
      { node: "127.0.0.1:7001", redisCursor: "18446744073709551615", count: 1000, pending: ["user/42", "user/43"] },
      { node: "", redisCursor: "123", count: 1, pending: ["ключ\"\\\n😀", ""] },
    ]) {
      expect(decodeCursor(encodeCursor(p))).toEqual(p);
    }
  });

  test("is URL-safe text", () => {
    expect(encodeCursor({ node: "n", redisCursor: "77", count: 9, pending: ["a/b+c?="] })).toMatch(/^[A-Za-z0-9_-]+$/);
  });

  test("anything not made by encodeCursor is INVALID_ARGUMENT", () => {
    const forged = (fields: unknown) => Buffer.from(JSON.stringify(fields)).toString("base64url");
    for (const bad of [
      "not a cursor",
      "",
      forged({ node: "" }),
      forged([1, "", "0", 10, ["a"]]),
      forged([2, "", "abc", 10, ["a"]]),
      forged([2, "", "0", 0, ["a"]]),
      forged([2, "", "0", 1.5, ["a"]]),
      forged([2, 5, "0", 10, ["a"]]),
      forged([2, "", "0", 10, []]),
      forged([2, "", "0", 10, [7]]),
      forged([2, "", "0", 10]),
    ]) {
      let err: unknown;
      try {
        decodeCursor(bad);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(PrismError);
      expect((err as PrismError).code).toBe(Code.INVALID_ARGUMENT);
    }
  });
});
