import type { Value } from "@bufbuild/protobuf/wkt";
import { type Filter as FilterMsg, Operator } from "../proto/gen/prism/patterns/multicast_registry/multicast_registry_pattern_pb";
import { invalidArgument, parseGlob, type JsonFilter as FilterNode, type JsonFilterOp as CompareOp, type JsonScalar as Scalar } from "@prism/sdk";

/** The filter language is the SDK's JsonFilter (sdk/drivers/interfaces.ts): the registry compiles requests into it. */
export type { JsonScalar as Scalar, JsonFilterOp as CompareOp, JsonFilter as FilterNode, GlobToken } from "@prism/sdk";
export { globMatch, matchesJsonFilter as matches, parseGlob } from "@prism/sdk";

const MAX_DEPTH = 32;
const MAX_CONDITIONS = 1024;
const MAX_IN_VALUES = 1024;

const opNames: Partial<Record<Operator, CompareOp>> = {
  [Operator.EQ]: "eq",
  [Operator.NE]: "ne",
  [Operator.IN]: "in",
  [Operator.EXISTS]: "exists",
  [Operator.PREFIX]: "prefix",
  [Operator.WILDCARD]: "wildcard",
  [Operator.LT]: "lt",
  [Operator.LTE]: "lte",
  [Operator.GT]: "gt",
  [Operator.GTE]: "gte",
};

function scalar(v: Value | undefined, where: string): Scalar {
  switch (v?.kind.case) {
    case "stringValue":
    case "numberValue":
    case "boolValue":
      return v.kind.value;
    case "nullValue":
      return null;
    case undefined:
      throw invalidArgument(`filter: ${where} needs a value`);
    default:
      throw invalidArgument(`filter: ${where}: value must be a string, number, boolean or null, not a ${v?.kind.case === "structValue" ? "struct" : "list"}`);
  }
}

/**
 * Checks a filter from a request and returns its evaluable form; undefined (no filter, or an empty
 * message) matches every identity. Malformed filters are INVALID_ARGUMENT naming what is wrong.
 */
export function compileFilter(f: FilterMsg | undefined): FilterNode | undefined {
  if (!f || f.kind.case === undefined) return undefined;
  let conditions = 0;
  const walk = (n: FilterMsg | undefined, depth: number): FilterNode => {
    if (depth > MAX_DEPTH) throw invalidArgument(`filter: nested deeper than ${MAX_DEPTH}`);
    const k = n?.kind;
    switch (k?.case) {
      case "and":
      case "or":
        return { op: k.case, of: k.value.filters.map((c) => walk(c, depth + 1)) };
      case "not":
        return { op: "not", of: walk(k.value, depth + 1) };
      case "condition": {
        if (++conditions > MAX_CONDITIONS) throw invalidArgument(`filter: more than ${MAX_CONDITIONS} conditions`);
        const c = k.value;
        const op = opNames[c.op];
        if (!op) throw invalidArgument(`filter: condition on "${c.field}" has no operator`);
        if (c.field === "") throw invalidArgument(`filter: ${op} condition has an empty field`);
        const path = c.field.split(".");
        if (path.some((p) => p === "")) throw invalidArgument(`filter: field "${c.field}" has an empty segment`);
        const where = `${op} on "${c.field}"`;
        switch (op) {
          case "exists":
            return { op, path };
          case "in": {
            if (c.values.length > MAX_IN_VALUES) throw invalidArgument(`filter: ${where} has more than ${MAX_IN_VALUES} values`);
            return { op, path, values: c.values.map((v) => scalar(v, where)) };
          }
          case "prefix":
          case "wildcard": {
            const v = scalar(c.value, where);
            if (typeof v !== "string") throw invalidArgument(`filter: ${where} needs a string value`);
            return op === "prefix" ? { op, path, value: v } : { op, path, value: v, glob: parseGlob(v) };
          }
          case "lt":
          case "lte":
          case "gt":
          case "gte": {
            const v = scalar(c.value, where);
            if (typeof v !== "number") throw invalidArgument(`filter: ${where} needs a number value`);
            return { op, path, value: v };
          }
          default:
            return { op, path, value: scalar(c.value, where) };
        }
      }
      default:
        throw invalidArgument("filter: an empty filter inside and/or/not");
    }
  };
  return walk(f, 1);
}
