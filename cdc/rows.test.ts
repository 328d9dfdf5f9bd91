import { expect, test } from "bun:test";
import { Operation } from "../proto/gen/prism/patterns/cdc/cdc_pattern_pb";
import { sinkKey, TableRule, toJson } from "./rows";
import type { TableSetting } from "./settings";

const setting = (over: Partial<TableSetting>): TableSetting => ({ name: "public.users", columns: [], rename: {}, mask: [], where: [], as: "", ...over });

test("a masked column is absent from new values, old values and the key; renames apply everywhere", () => {
  const rule = new TableRule(setting({ mask: ["ssn", "id2"], rename: { id: "user_id" } }));
  const c = rule.change(Operation.UPDATE, ["id", "id2"], { id: 1, id2: 9, ssn: "123", name: "b" }, { id: 1, id2: 9, ssn: "123", name: "a" })!;
  expect(c.newValues).toEqual({ user_id: 1, name: "b" });
  expect(c.oldValues).toEqual({ user_id: 1, name: "a" });
  expect(c.key).toEqual({ user_id: "1" });
  expect(JSON.stringify(c)).not.toContain("123");
  expect(sinkKey(c)).toBe('public.users:{"user_id":"1"}');
});

test("columns keep only the listed ones and the key; the row filter tests the new row, or the old one of a delete", () => {
  const rule = new TableRule(setting({ columns: ["name"], where: [{ column: "status", op: "eq", value: "live" }], as: "people" }));
  expect(rule.change(Operation.INSERT, ["id"], { id: 1, name: "a", status: "draft" }, null)).toBeUndefined();
  const c = rule.change(Operation.INSERT, ["id"], { id: 2, name: "b", status: "live", age: 3 }, null)!;
  expect(c.table).toBe("people");
  expect(c.newValues).toEqual({ id: 2, name: "b" });
  expect(rule.change(Operation.DELETE, ["id"], null, { id: 2, status: "live" })?.key).toEqual({ id: "2" });
  expect(rule.change(Operation.DELETE, ["id"], null, { id: 3, status: "gone" })).toBeUndefined();
});

test("values become JSON: timestamps ISO, bytea hex, big numbers text", () => {
  expect(toJson(new Date(Date.UTC(2026, 0, 2)))).toBe("2026-01-02T00:00:00.000Z");
  expect(toJson(Buffer.from([1, 255]))).toBe("\\x01ff");
  expect(toJson({ a: [1n, null] })).toEqual({ a: ["1", null] });
});
