import { describe, expect, test } from "bun:test";
import { Registry } from "prom-client";
import { FILTER_DOCS, filterDisagreements } from "../../tests/helpers/json_filter_cases";
import type { JsonFilterScanDriver } from "./interfaces";
import { DriverMetrics, instrumentDriver } from "./instrument";
import { matchesJsonFilter, nestJsonFilter, offersJsonFilterScan } from "./json_filter";

describe("json filter", () => {
  test("the reference evaluator agrees with the conformance cases", async () => {
    const failures = await filterDisagreements((f) =>
      Object.entries(FILTER_DOCS)
        .filter(([, d]) => matchesJsonFilter(f, d))
        .map(([k]) => k),
    );
    expect(failures).toEqual([]);
  });

  test("nestJsonFilter moves every condition under a key", () => {
    const f = nestJsonFilter(
      {
        op: "and",
        of: [
          { op: "eq", path: ["a", "b"], value: 1 },
          { op: "not", of: { op: "exists", path: ["c"] } },
        ],
      },
      "m",
    );
    expect(f).toEqual({
      op: "and",
      of: [
        { op: "eq", path: ["m", "a", "b"], value: 1 },
        { op: "not", of: { op: "exists", path: ["m", "c"] } },
      ],
    });
    expect(matchesJsonFilter(f, { m: { a: { b: 1 } } })).toBe(true);
    expect(matchesJsonFilter(f, { a: { b: 1 } })).toBe(false);
  });

  test("offersJsonFilterScan: a filterScan method, not marked unavailable, also behind the SDK's instrumented facade", () => {
    class Plain {
      readonly name = "plain";
      get() {}
    }
    class Filtering extends Plain implements JsonFilterScanDriver {
      constructor(readonly jsonFilterUnavailable?: string) {
        super();
      }
      async filterScan() {
        return { entries: [], nextCursor: "" };
      }
    }
    const metrics = new DriverMetrics(new Registry());
    const wrap = (d: object) => instrumentDriver(d, ["get"], { driver: "t", dbSystem: "t", metrics });
    expect(offersJsonFilterScan(new Plain())).toBe(false);
    expect(offersJsonFilterScan(new Filtering())).toBe(true);
    expect(offersJsonFilterScan(new Filtering("a cluster"))).toBe(false);
    expect(offersJsonFilterScan(wrap(new Plain()))).toBe(false);
    expect(offersJsonFilterScan(wrap(new Filtering()))).toBe(true);
    expect(offersJsonFilterScan(wrap(new Filtering("a cluster")))).toBe(false);
  });
});
