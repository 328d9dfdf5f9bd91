import { describe, expect, test } from "bun:test";
import { Histogram, Registry } from "prom-client";
import { LATENCY_BUCKETS } from "../sdk/observability/tally";
import { Code } from "../sdk/grpc/errors";
import { ProxyMetrics } from "./metrics";

/** The lines of the exposition that mention this namespace, comments left out. */
async function seriesOf(metrics: ProxyMetrics, namespace: string): Promise<string[]> {
  return (await metrics.registry.metrics()).split("\n").filter((l) => !l.startsWith("#") && l.includes(`namespace="${namespace}"`));
}

describe("proxy metrics", () => {
  test("a namespace relabelled with its pattern's name keeps one series per metric, none under the old label", async () => {
    const metrics = new ProxyMetrics("test");
    // A remote namespace is known by its address until the pattern names itself at Initialize.
    const stats = metrics.namespace("remote", "127.0.0.1:7000");
    stats.forPath("/prism.interfaces.keyvalue.KeyValueBasicInterface/Get").record(Code.UNAVAILABLE, 0.001);
    stats.setUp(false);
    stats.relabel("fake");
    stats.setUp(true);
    stats.forPath("/prism.interfaces.keyvalue.KeyValueBasicInterface/Get").record(Code.OK, 0.002);

    const lines = await seriesOf(metrics, "remote");
    expect(lines.filter((l) => l.includes("127.0.0.1:7000"))).toEqual([]);
    expect(lines.filter((l) => l.startsWith("prism_pattern_up"))).toEqual(['prism_pattern_up{namespace="remote",pattern="fake"} 1']);
    expect(lines.filter((l) => l.startsWith("prism_pattern_restarts_total"))).toEqual(['prism_pattern_restarts_total{namespace="remote",pattern="fake"} 0']);
    expect(lines.filter((l) => l.startsWith("prism_requests_total"))).toEqual([
      'prism_requests_total{namespace="remote",pattern="fake",method="Get",code="OK"} 1',
    ]);
    expect(lines).toContain('prism_request_duration_seconds_count{namespace="remote",pattern="fake",method="Get"} 1');
    expect(stats.pattern).toBe("fake");
  });

  test("up and restarts carry over a relabel; relabelling to the same name changes nothing", async () => {
    const metrics = new ProxyMetrics("test");
    const stats = metrics.namespace("ns", "a");
    stats.restarted();
    stats.restarted();
    stats.setUp(true);
    stats.relabel("a");
    stats.relabel("b");
    const lines = await seriesOf(metrics, "ns");
    expect(lines.filter((l) => l.startsWith("prism_pattern_"))).toEqual([
      'prism_pattern_restarts_total{namespace="ns",pattern="b"} 2',
      'prism_pattern_up{namespace="ns",pattern="b"} 1',
    ]);
  });

  test("calls recorded into plain counters reach the series at scrape time as prom-client itself would record them, once", async () => {
    const metrics = new ProxyMetrics("test");
    const get = metrics.namespace("ns", "memstore").forPath("/prism.interfaces.keyvalue.KeyValueBasicInterface/Get");
    // The reference: the same observations into a prom-client histogram of the same buckets.
    const reference = new Registry();
    const h = new Histogram({
      name: "prism_request_duration_seconds",
      help: "h",
      labelNames: ["namespace", "pattern", "method"],
      buckets: LATENCY_BUCKETS,
      registers: [reference],
    });
    // Powers of two: their sums are exact in any order, so the two sums compare equal.
    const samples = [2 ** -17, 2 ** -14, 2 ** -13, 2 ** -12, 2 ** -10, 2 ** -9, 2 ** -5, 4, 64];
    const lines = async () => (await seriesOf(metrics, "ns")).filter((l) => l.startsWith("prism_request"));
    for (const [i, s] of samples.entries()) {
      get.record(i === 3 ? Code.NOT_FOUND : Code.OK, s);
      h.observe({ namespace: "ns", pattern: "memstore", method: "Get" }, s);
      if (i === 4) await lines(); // a scrape in between: what it flushed is not counted again
    }
    get.refused(Code.UNAVAILABLE);
    const expected = (await reference.metrics()).split("\n").filter((l) => l.startsWith("prism_request_duration_seconds_"));
    const got = await lines();
    expect(got.filter((l) => l.startsWith("prism_request_duration_seconds_"))).toEqual(expected);
    expect(got.filter((l) => l.startsWith("prism_requests_total")).sort()).toEqual([
      'prism_requests_total{namespace="ns",pattern="memstore",method="Get",code="NOT_FOUND"} 1',
      'prism_requests_total{namespace="ns",pattern="memstore",method="Get",code="OK"} 8',
      'prism_requests_total{namespace="ns",pattern="memstore",method="Get",code="UNAVAILABLE"} 1',
    ]);
    expect(await lines()).toEqual(got);
  });
});
