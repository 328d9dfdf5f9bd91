import { describe, expect, test } from "bun:test";
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
});
