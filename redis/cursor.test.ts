import { describe, expect, test } from "bun:test";
import { Code, PrismError } from "../sdk/grpc/errors";
import { decodeCursor, encodeCursor } from "./cursor";

describe("scan cursor", () => {
  test("round-trips every field, including keys with any characters", () => {
    for (const p of [
      { node: "", redisCursor: "0", count: 16 },
      { node: "127.0.0.1:7001", redisCursor: "18446744073709551615", count: 1000, after: "user/42" },
      { node: "", redisCursor: "123", count: 1, after: "ключ\"\\\n😀" },
      { node: "", redisCursor: "5", count: 16, after: "" },
    ]) {
      expect(decodeCursor(encodeCursor(p))).toEqual(p);
    }
  });

  test("is URL-safe text", () => {
    expect(encodeCursor({ node: "n", redisCursor: "77", count: 9, after: "a/b+c?=" })).toMatch(/^[A-Za-z0-9_-]+$/);
  });

  test("anything not made by encodeCursor is INVALID_ARGUMENT", () => {
    const forged = (fields: unknown) => Buffer.from(JSON.stringify(fields)).toString("base64url");
    for (const bad of [
      "not a cursor",
      "",
      forged({ node: "" }),
      forged([2, "", "0", 10]),
      forged([1, "", "abc", 10]),
      forged([1, "", "0", 0]),
      forged([1, "", "0", 1.5]),
      forged([1, 5, "0", 10]),
      forged([1, "", "0", 10, 7]),
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
