import { expect, test } from "bun:test";
import { formatAttempts, parseAttempts } from "./queue_group";

test("attempts round-trip through commit metadata, lowest offsets first, bounded", () => {
  const text = formatAttempts([
    [5, 2],
    [9, 1],
  ]);
  expect(text).toBe('{"5":2,"9":1}');
  expect([...parseAttempts(text)]).toEqual([
    [5, 2],
    [9, 1],
  ]);
  const many = formatAttempts(Array.from({ length: 500 }, (_, i) => [1_000_000_000 + i, 3] as [number, number]));
  expect(parseAttempts(many).size).toBe(100);
  expect(many.length).toBeLessThan(4096);
});

test("metadata that is not ours reads as no attempts", () => {
  for (const m of [null, undefined, "", "x", "[1]", '{"a":1}', '{"3":-1}', '{"3":"2"}']) expect(parseAttempts(m).size).toBe(0);
});
