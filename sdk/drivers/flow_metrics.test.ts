import { describe, expect, test } from "bun:test";
import { Registry } from "prom-client";
import { exportFlowMetrics, METRIC_TOPICS, TopicDrops } from "./flow_metrics";

/** Samples of one metric as "label=value,..." → value. */
async function samples(registry: Registry, name: string): Promise<Map<string, number>> {
  const metric = registry.getSingleMetric(name);
  if (!metric) throw new Error(`${name} is not registered`);
  const out = new Map<string, number>();
  for (const v of (await metric.get()).values) {
    const key = Object.entries(v.labels)
      .map(([k, l]) => `${k}=${l}`)
      .join(",");
    out.set(key, v.value);
  }
  return out;
}

describe("TopicDrops", () => {
  test("counts every drop in the total and per topic for a bounded number of topics", () => {
    const d = new TopicDrops(2);
    d.add("a");
    d.add("b", 3);
    d.add("c");
    d.add("a");
    expect(d.total).toBe(6);
    expect([...d.byTopic]).toEqual([
      ["a", 2],
      ["b", 3],
    ]);
  });
});

describe("exportFlowMetrics", () => {
  test("reads the driver's own figures at scrape time", async () => {
    const registry = new Registry();
    const drops = new TopicDrops();
    let buffered = 5;
    let pauses = 1;
    let paused = 2;
    exportFlowMetrics(registry, "kafka", { drops, buffered: () => buffered, pauses: () => pauses, pausedPartitions: () => paused });
    // Series exist at 0 before anything was dropped.
    expect(await samples(registry, "prism_subscriber_dropped_messages_total")).toEqual(new Map([["driver=kafka,topic=", 0]]));
    drops.add("t", 4);
    buffered = 7;
    pauses = 3;
    paused = 0;
    expect(await samples(registry, "prism_subscriber_dropped_messages_total")).toEqual(
      new Map([
        ["driver=kafka,topic=t", 4],
        ["driver=kafka,topic=", 0],
      ]),
    );
    expect(await samples(registry, "prism_subscriber_buffered_messages")).toEqual(new Map([["driver=kafka", 7]]));
    expect(await samples(registry, "prism_flow_control_pauses_total")).toEqual(new Map([["driver=kafka", 3]]));
    expect(await samples(registry, "prism_flow_control_paused_partitions")).toEqual(new Map([["driver=kafka", 0]]));
    const text = await registry.metrics();
    expect(text).toContain("# TYPE prism_subscriber_dropped_messages_total counter");
    expect(text).toContain("# TYPE prism_subscriber_buffered_messages gauge");
  });

  test(`gives the first ${METRIC_TOPICS} topics to drop a series each and counts the rest under topic=""`, async () => {
    const registry = new Registry();
    const drops = new TopicDrops();
    exportFlowMetrics(registry, "nats", { drops });
    for (let i = 0; i < METRIC_TOPICS + 50; i++) drops.add(`t${i}`, 2);
    drops.add("t0");
    const s = await samples(registry, "prism_subscriber_dropped_messages_total");
    expect(s.size).toBe(METRIC_TOPICS + 1);
    expect(s.get("driver=nats,topic=t0")).toBe(3);
    expect(s.get(`driver=nats,topic=t${METRIC_TOPICS - 1}`)).toBe(2);
    expect(s.has(`driver=nats,topic=t${METRIC_TOPICS}`)).toBe(false);
    expect(s.get("driver=nats,topic=")).toBe(100);
  });

  test("several drivers on one registry: registered once, summed per driver label; a closed source keeps its counts", async () => {
    const registry = new Registry();
    const a = new TopicDrops();
    const b = new TopicDrops();
    const ea = exportFlowMetrics(registry, "memstore", { drops: a, buffered: () => 1 });
    exportFlowMetrics(registry, "memstore", { drops: b, buffered: () => 2 });
    exportFlowMetrics(registry, "redis", { buffered: () => 10 });
    a.add("x", 2);
    b.add("x", 3);
    expect((await samples(registry, "prism_subscriber_dropped_messages_total")).get("driver=memstore,topic=x")).toBe(5);
    expect(await samples(registry, "prism_subscriber_buffered_messages")).toEqual(
      new Map([
        ["driver=memstore", 3],
        ["driver=redis", 10],
      ]),
    );
    ea.close();
    ea.close();
    a.add("x", 100);
    expect((await samples(registry, "prism_subscriber_dropped_messages_total")).get("driver=memstore,topic=x")).toBe(5);
    expect((await samples(registry, "prism_subscriber_buffered_messages")).get("driver=memstore")).toBe(2);
  });

  test("each registry has its own metrics", async () => {
    const one = new Registry();
    const two = new Registry();
    exportFlowMetrics(one, "memstore", { buffered: () => 1 });
    exportFlowMetrics(two, "memstore", { buffered: () => 2 });
    expect((await samples(one, "prism_subscriber_buffered_messages")).get("driver=memstore")).toBe(1);
    expect((await samples(two, "prism_subscriber_buffered_messages")).get("driver=memstore")).toBe(2);
  });
});
