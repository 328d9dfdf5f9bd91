import { Counter, Gauge, type Registry } from "prom-client";

/**
 * Topics that get a series of their own in prism_subscriber_dropped_messages_total, per driver: the first
 * ones to drop. Drops on any further topic are counted in the series with an empty topic label, so a scrape
 * never carries more than this many + 1 series per driver, however many topics a client invents.
 */
export const METRIC_TOPICS = 100;

/** Per-topic drop counts for a bounded number of topics (the first to drop) and the total over every topic. */
export class TopicDrops {
  total = 0;
  private readonly counts = new Map<string, number>();

  constructor(readonly maxTopics = 1000) {}

  /** Counts `n` messages dropped on `topic` (called on overflow only, never per delivered message). */
  add(topic: string, n = 1): void {
    this.total += n;
    const seen = this.counts.get(topic);
    if (seen !== undefined || this.counts.size < this.maxTopics) this.counts.set(topic, (seen ?? 0) + n);
  }

  /** The counted topics, in the order they first dropped a message. */
  get byTopic(): ReadonlyMap<string, number> {
    return this.counts;
  }
}

/**
 * What a driver reports about the flow between its backend and its subscriber streams. Everything is read
 * at scrape time, so the driver's hot path only keeps its own numbers; figures a driver leaves out (a
 * driver that never pauses, one that never drops) are not exported for it.
 */
export interface FlowSource {
  /** Messages dropped because a subscriber's buffer was full. */
  readonly drops?: TopicDrops;
  /** Messages buffered now between the backend and the subscriber streams. */
  buffered?(): number;
  /** Times flow control paused the backend (a partition) because a buffer was full; only grows. */
  pauses?(): number;
  /** Partitions paused by flow control now. */
  pausedPartitions?(): number;
}

/** Stops exporting a source; its counters keep their last values (a counter never goes down). */
export type FlowExport = { close(): void };

/**
 * Exports a driver's flow figures on `registry` under names shared by every backend:
 * prism_subscriber_dropped_messages_total{driver,topic}, prism_subscriber_buffered_messages{driver},
 * prism_flow_control_pauses_total{driver} and prism_flow_control_paused_partitions{driver}.
 * The metrics are registered once per registry; several drivers (or several instances of one, as in
 * tests) may export on the same registry, and figures of one driver label are summed.
 */
export function exportFlowMetrics(registry: Registry, driver: string, source: FlowSource): FlowExport {
  let m = perRegistry.get(registry);
  if (!m) perRegistry.set(registry, (m = new FlowMetrics(registry)));
  return m.add(driver, source);
}

const perRegistry = new WeakMap<Registry, FlowMetrics>();

/** The four metrics of one registry and the sources they read. */
class FlowMetrics {
  private readonly sources = new Map<FlowSource, string>();
  /** Final counts of sources that stopped exporting, per driver: drops by topic ("" = other topics), pauses. */
  private readonly retiredDrops = new Map<string, Map<string, number>>();
  private readonly retiredPauses = new Map<string, number>();

  constructor(registry: Registry) {
    const dropped: Counter<"driver" | "topic"> = new Counter({
      name: "prism_subscriber_dropped_messages_total",
      help: `Messages dropped because a subscriber's buffer was full (oldest dropped first), by driver and topic; the first ${METRIC_TOPICS} topics to drop have their own series, topic="" counts the others.`,
      labelNames: ["driver", "topic"],
      registers: [registry],
      collect: () => {
        dropped.reset();
        for (const [driver, byTopic] of this.drops()) for (const [topic, n] of byTopic) dropped.inc({ driver, topic }, n);
      },
    });
    const buffered: Gauge<"driver"> = new Gauge({
      name: "prism_subscriber_buffered_messages",
      help: "Messages buffered now between the backend and subscriber streams, by driver.",
      labelNames: ["driver"],
      registers: [registry],
      collect: () => {
        buffered.reset();
        for (const [driver, n] of this.sum((s) => s.buffered?.())) buffered.set({ driver }, n);
      },
    });
    const pauses: Counter<"driver"> = new Counter({
      name: "prism_flow_control_pauses_total",
      help: "Times flow control paused the backend (a partition) because a subscriber's buffer was full, by driver.",
      labelNames: ["driver"],
      registers: [registry],
      collect: () => {
        pauses.reset();
        const sums = this.sum((s) => s.pauses?.());
        for (const [driver, n] of this.retiredPauses) sums.set(driver, (sums.get(driver) ?? 0) + n);
        for (const [driver, n] of sums) pauses.inc({ driver }, n);
      },
    });
    const paused: Gauge<"driver"> = new Gauge({
      name: "prism_flow_control_paused_partitions",
      help: "Partitions paused by flow control now (a subscriber's buffer is full), by driver.",
      labelNames: ["driver"],
      registers: [registry],
      collect: () => {
        paused.reset();
        for (const [driver, n] of this.sum((s) => s.pausedPartitions?.())) paused.set({ driver }, n);
      },
    });
  }

  add(driver: string, source: FlowSource): FlowExport {
    this.sources.set(source, driver);
    return {
      close: () => {
        if (!this.sources.delete(source)) return;
        if (source.drops) addTo(mapOf(this.retiredDrops, driver), cappedDrops(source.drops));
        const p = source.pauses?.();
        if (p !== undefined) this.retiredPauses.set(driver, (this.retiredPauses.get(driver) ?? 0) + p);
      },
    };
  }

  /** Drops by driver and topic: live sources (capped) plus retired ones. */
  private drops(): Map<string, Map<string, number>> {
    const out = new Map<string, Map<string, number>>();
    for (const [driver, byTopic] of this.retiredDrops) addTo(mapOf(out, driver), byTopic);
    for (const [source, driver] of this.sources) if (source.drops) addTo(mapOf(out, driver), cappedDrops(source.drops));
    return out;
  }

  /** A figure summed per driver over the sources that report it. */
  private sum(read: (s: FlowSource) => number | undefined): Map<string, number> {
    const out = new Map<string, number>();
    for (const [source, driver] of this.sources) {
      const n = read(source);
      if (n !== undefined) out.set(driver, (out.get(driver) ?? 0) + n);
    }
    return out;
  }
}

/**
 * The first METRIC_TOPICS topics to drop with their counts, the rest under "". Both only grow, since
 * TopicDrops keeps topics in first-drop order and never forgets one. "" is there even at 0, so that a
 * driver's series exist (and rate() works) from the first scrape.
 */
function cappedDrops(d: TopicDrops): Map<string, number> {
  const out = new Map<string, number>();
  let counted = 0;
  for (const [topic, n] of d.byTopic) {
    if (out.size >= METRIC_TOPICS) break;
    out.set(topic, n);
    counted += n;
  }
  out.set("", (out.get("") ?? 0) + d.total - counted);
  return out;
}

function mapOf<K, V>(m: Map<K, Map<string, V>>, key: K): Map<string, V> {
  let v = m.get(key);
  if (!v) m.set(key, (v = new Map()));
  return v;
}

function addTo(into: Map<string, number>, from: ReadonlyMap<string, number>): void {
  for (const [k, n] of from) into.set(k, (into.get(k) ?? 0) + n);
}
