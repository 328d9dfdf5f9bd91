/**
 * JSON documents and JsonFilters with the expected matches written apart from any evaluator: the conformance set
 * every JsonFilterScanDriver (redis/native_filter.test.ts, postgres/native_filter.test.ts) and the reference
 * evaluator (sdk/drivers/json_filter.test.ts) must agree with.
 */
import type { JsonFilter, JsonScalar } from "../../sdk/drivers/interfaces";
import { parseGlob } from "../../sdk/drivers/json_filter";

type Doc = Record<string, unknown>;

export const FILTER_DOCS: Record<string, unknown> = {
  ann: { region: "eu-west", tier: 1, score: 9.5, active: true, labels: { team: "core" }, tags: ["a", "b"] },
  bob: { region: "eu-north", tier: 2, score: 3, active: false, labels: { team: "edge" } },
  cid: { region: "us-east", tier: 3, score: -1, active: true },
  dee: { region: "us-west", tier: 2.0, score: 7, active: null, labels: { team: "core", site: "sfo" } },
  eve: { region: "ap-south", tier: "2", score: 0 },
  fay: { region: "eu*west", tier: 1, score: 100, pct: "50%_off" },
  gus: { region: "", tier: 5, labels: "flat" },
  hal: { region: "üsé-ø", tier: 4, score: 4 },
  ivy: {},
  jon: { region: "eu-west", tier: 1, score: 10.5, active: true, pct: "50xyoff" },
  lst: [1, 2, 3],
  num: 42,
  str: "eu-west",
};

const c = (op: JsonFilter["op"], path: string, value?: JsonScalar, values?: JsonScalar[]): JsonFilter =>
  op === "wildcard"
    ? { op, path: path.split("."), value, glob: parseGlob(value as string) }
    : ({ op, path: path.split("."), ...(value !== undefined ? { value } : {}), ...(values ? { values } : {}) } as JsonFilter);
const and = (...of: JsonFilter[]): JsonFilter => ({ op: "and", of });
const or = (...of: JsonFilter[]): JsonFilter => ({ op: "or", of });
const not = (of: JsonFilter): JsonFilter => ({ op: "not", of });

const obj = (d: unknown): Doc | undefined => (typeof d === "object" && d !== null && !Array.isArray(d) ? (d as Doc) : undefined);
const field = (d: unknown, k: string) => (obj(d) && Object.hasOwn(obj(d)!, k) ? obj(d)![k] : undefined);
const str = (v: unknown): v is string => typeof v === "string";
const num = (v: unknown): v is number => typeof v === "number";

/** [description, filter, expected predicate on a document]. */
export const FILTER_CASES: [string, JsonFilter | undefined, (d: unknown) => boolean][] = [
  ["no filter: every JSON value", undefined, () => true],
  ["eq string", c("eq", "region", "eu-west"), (d) => field(d, "region") === "eu-west"],
  ["eq number (2 == 2.0)", c("eq", "tier", 2), (d) => field(d, "tier") === 2],
  ["eq boolean", c("eq", "active", true), (d) => field(d, "active") === true],
  ["eq null", c("eq", "active", null), (d) => field(d, "active") === null],
  ["eq on an object is false", c("eq", "labels", "flat"), (d) => field(d, "labels") === "flat"],
  ["ne (missing and non-scalar values are not equal)", c("ne", "tier", 2), (d) => field(d, "tier") !== 2],
  ["in", c("in", "region", undefined, ["us-east", "us-west", "nowhere"]), (d) => ["us-east", "us-west"].includes(field(d, "region") as string)],
  ["in mixed types", c("in", "tier", undefined, [1, "2", null]), (d) => field(d, "tier") === 1 || field(d, "tier") === "2"],
  ["exists", c("exists", "score"), (d) => field(d, "score") !== undefined],
  ["exists (null counts)", c("exists", "active"), (d) => field(d, "active") !== undefined],
  ["nested field", c("eq", "labels.team", "core"), (d) => field(field(d, "labels"), "team") === "core"],
  ["nested through a string finds nothing", c("exists", "labels.flat"), () => false],
  ["lists are not traversed", c("exists", "tags.0"), () => false],
  ["prefix", c("prefix", "region", "eu-"), (d) => str(field(d, "region")) && (field(d, "region") as string).startsWith("eu-")],
  ["prefix empty string: any string", c("prefix", "region", ""), (d) => str(field(d, "region"))],
  ["wildcard *", c("wildcard", "region", "*-west"), (d) => str(field(d, "region")) && (field(d, "region") as string).endsWith("-west")],
  ["wildcard ?", c("wildcard", "region", "us-????"), (d) => ["us-east", "us-west"].includes(field(d, "region") as string)],
  ["wildcard escape", c("wildcard", "region", "eu\\*west"), (d) => field(d, "region") === "eu*west"],
  ["wildcard unicode ?", c("wildcard", "region", "?s?-?"), (d) => field(d, "region") === "üsé-ø"],
  ["wildcard: % and _ are literal", c("wildcard", "pct", "50%_*"), (d) => field(d, "pct") === "50%_off"],
  ["lt", c("lt", "score", 4), (d) => num(field(d, "score")) && (field(d, "score") as number) < 4],
  ["lte", c("lte", "score", 4), (d) => num(field(d, "score")) && (field(d, "score") as number) <= 4],
  ["gt ignores strings", c("gt", "tier", 1), (d) => num(field(d, "tier")) && (field(d, "tier") as number) > 1],
  ["gte decimals", c("gte", "score", 9.5), (d) => num(field(d, "score")) && (field(d, "score") as number) >= 9.5],
  [
    "and",
    and(c("prefix", "region", "eu"), c("eq", "tier", 1)),
    (d) => str(field(d, "region")) && (field(d, "region") as string).startsWith("eu") && field(d, "tier") === 1,
  ],
  ["or", or(c("eq", "tier", 5), c("exists", "labels.site")), (d) => field(d, "tier") === 5 || field(field(d, "labels"), "site") !== undefined],
  ["not", not(c("prefix", "region", "eu")), (d) => !(str(field(d, "region")) && (field(d, "region") as string).startsWith("eu"))],
  ["empty and: all", and(), () => true],
  ["empty or: none", or(), () => false],
];

/** The documents' names each case expects, sorted. */
export function expectedMatches(predicate: (d: unknown) => boolean): string[] {
  return Object.entries(FILTER_DOCS)
    .filter(([, d]) => predicate(d))
    .map(([k]) => k)
    .sort();
}

/** Every case whose result differs from what it expects, as "<case>: got … want …" (empty when all agree). */
export async function filterDisagreements(run: (filter: JsonFilter | undefined) => Promise<string[]> | string[]): Promise<string[]> {
  const out: string[] = [];
  for (const [what, filter, predicate] of FILTER_CASES) {
    const got = [...(await run(filter))].sort();
    const want = expectedMatches(predicate);
    if (JSON.stringify(got) !== JSON.stringify(want)) out.push(`${what}: got ${got.join(",")} want ${want.join(",")}`);
  }
  return out;
}
