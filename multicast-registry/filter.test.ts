import { describe, expect, test } from "bun:test";
import { create } from "@bufbuild/protobuf";
import { fromJson, type JsonValue } from "@bufbuild/protobuf";
import { ValueSchema } from "@bufbuild/protobuf/wkt";
import { FilterSchema, Operator } from "../proto/gen/prism/patterns/multicast_registry/multicast_registry_pattern_pb";
import { Code, PrismError } from "../sdk/errors";
import { compileFilter, globMatch, matches, parseGlob } from "./filter";

const cond = (field: string, op: Operator, v?: JsonValue) =>
  create(FilterSchema, { kind: { case: "condition", value: { field, op, value: v === undefined ? undefined : fromJson(ValueSchema, v) } } });

function codeOf(fn: () => unknown): number {
  try {
    fn();
    return Code.OK;
  } catch (err) {
    return PrismError.from(err).code;
  }
}

describe("glob", () => {
  test("* any run, ? one character, \\ escapes", () => {
    const g = (p: string, t: string) => globMatch(parseGlob(p), t);
    expect(g("a*c", "abbbc")).toBe(true);
    expect(g("a*c", "ab")).toBe(false);
    expect(g("*", "")).toBe(true);
    expect(g("?", "")).toBe(false);
    expect(g("?", "é")).toBe(true);
    expect(g("??", "😀x")).toBe(true);
    expect(g("a\\*", "a*")).toBe(true);
    expect(g("a\\*", "ab")).toBe(false);
    expect(g("*b*b*", "abxbx")).toBe(true);
    expect(g("**a", "xxa")).toBe(true);
  });
});

describe("compileFilter", () => {
  test("absent or empty filter matches everything", () => {
    expect(compileFilter(undefined)).toBeUndefined();
    expect(compileFilter(create(FilterSchema))).toBeUndefined();
    expect(matches(undefined, {})).toBe(true);
  });

  test("malformed conditions are INVALID_ARGUMENT", () => {
    expect(codeOf(() => compileFilter(cond("a", Operator.OPERATOR_UNSPECIFIED, 1)))).toBe(Code.INVALID_ARGUMENT);
    expect(codeOf(() => compileFilter(cond("a..b", Operator.EQ, 1)))).toBe(Code.INVALID_ARGUMENT);
    expect(codeOf(() => compileFilter(cond("a", Operator.GT, "x")))).toBe(Code.INVALID_ARGUMENT);
    expect(codeOf(() => compileFilter(cond("a", Operator.PREFIX, 3)))).toBe(Code.INVALID_ARGUMENT);
    expect(codeOf(() => compileFilter(cond("a", Operator.EQ)))).toBe(Code.INVALID_ARGUMENT);
    let deep = cond("a", Operator.EXISTS);
    for (let i = 0; i < 40; i++) deep = create(FilterSchema, { kind: { case: "not", value: deep } });
    expect(codeOf(() => compileFilter(deep))).toBe(Code.INVALID_ARGUMENT);
  });

  test("numbers compare by value, strings never compare as numbers", () => {
    const gt = compileFilter(cond("n", Operator.GT, 1))!;
    expect(matches(gt, { n: 1.5 })).toBe(true);
    expect(matches(gt, { n: "2" })).toBe(false);
    expect(matches(compileFilter(cond("n", Operator.EQ, 1))!, { n: 1.0 })).toBe(true);
  });
});
