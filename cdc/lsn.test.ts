import { expect, test } from "bun:test";
import { comparePositions, formatLsn, parseLsn } from "./lsn";

test("LSNs parse, print as PostgreSQL does, and order across the 32-bit halves", () => {
  expect(formatLsn(parseLsn("0/16B3748"))).toBe("0/16B3748");
  expect(formatLsn(parseLsn("00000001/0000000a"))).toBe("1/A");
  expect(parseLsn("1/0") > parseLsn("0/FFFFFFFF")).toBe(true);
  expect(parseLsn("1/0") - parseLsn("0/FFFFFFFF")).toBe(1n);
  expect(() => parseLsn("16B3748")).toThrow("not an LSN");
});

test("positions order by LSN, then by place in the transaction", () => {
  expect(comparePositions({ lsn: 5n, position: 9 }, { lsn: 6n, position: 1 })).toBeLessThan(0);
  expect(comparePositions({ lsn: 6n, position: 2 }, { lsn: 6n, position: 1 })).toBeGreaterThan(0);
  expect(comparePositions({ lsn: 6n, position: 2 }, { lsn: 6n, position: 2 })).toBe(0);
});
