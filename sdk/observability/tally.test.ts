import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { Counter, Histogram, Registry } from "prom-client";
import { CountTally, LATENCY_BUCKETS, LatencyTally } from "./tally";

/** Two registries with the same histogram and counter: one fed by prom-client per call, one through the tallies. */
function pair() {
  const make = () => {
    const registry = new Registry();
    const histogram = new Histogram({ name: "h_seconds", help: "h", labelNames: ["a", "b"], buckets: LATENCY_BUCKETS, registers: [registry] });
    const counter = new Counter({ name: "c_total", help: "c", labelNames: ["a"], registers: [registry] });
    return { registry, histogram, counter };
  };
  return { direct: make(), tallied: make() };
}

/** The same exposition, but _sum lines compared as numbers: partial sums added at a flush round differently. */
function expectSameMetrics(got: string, want: string): void {
  const split = (text: string) => text.split("\n").map((line) => (/_sum\{/.test(line) ? line.split(" ") : [line]));
  const [g, w] = [split(got), split(want)];
  expect(g.map((l) => l[0])).toEqual(w.map((l) => l[0]));
  g.forEach((l, i) => {
    if (l.length === 2) expect(Number(l[1])).toBeCloseTo(Number(w[i]![1]), 9);
  });
}

describe("LatencyTally and CountTally", () => {
  test("after a flush, /metrics reads exactly what prom-client's own observe() and inc() give", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            series: fc.constantFrom("x", "y"),
            seconds: fc.oneof(fc.constantFrom(...LATENCY_BUCKETS, 0, 20), fc.double({ min: 0, max: 15, noNaN: true })),
          }),
          {
            maxLength: 60,
          },
        ),
        fc.integer({ min: 1, max: 3 }),
        async (obs, flushes) => {
          const { direct, tallied } = pair();
          const tallies = new Map(["x", "y"].map((s) => [s, new LatencyTally(tallied.histogram, { a: s, b: "k" })]));
          const counts = new Map(["x", "y"].map((s) => [s, new CountTally(tallied.counter.labels(s))]));
          obs.forEach((o, i) => {
            direct.histogram.observe({ a: o.series, b: "k" }, o.seconds);
            direct.counter.inc({ a: o.series });
            tallies.get(o.series)!.observe(o.seconds);
            counts.get(o.series)!.inc();
            // Flushed at any point, any number of times: nothing lost, nothing counted twice.
            if (i % flushes === 0) for (const t of [...tallies.values(), ...counts.values()]) t.flush();
          });
          for (const t of [...tallies.values(), ...counts.values()]) t.flush();
          expectSameMetrics(await tallied.registry.metrics(), await direct.registry.metrics());
        },
      ),
      { numRuns: 200 },
    );
  });

  test("a flush with nothing observed creates no series", async () => {
    const { tallied } = pair();
    new LatencyTally(tallied.histogram, { a: "x", b: "k" }).flush();
    new CountTally(tallied.counter.labels("x")).flush();
    expect(await tallied.registry.getSingleMetricAsString("h_seconds")).not.toContain('a="x"');
  });
});
