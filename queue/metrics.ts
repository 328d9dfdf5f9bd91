import { Counter, Gauge, type Registry } from "prom-client";

const NAMES = [
  "prism_queue_deliveries_total",
  "prism_queue_acks_total",
  "prism_queue_nacks_total",
  "prism_queue_redeliveries_total",
  "prism_queue_dead_letters_total",
  "prism_queue_in_flight",
  "prism_queue_lag",
];

/** Topic/group pairs that get series of their own; beyond, they share topic="other", group="other". */
const MAX_SERIES = 200;

export interface LagSource {
  /** Pending messages of each known group (queueStats), read at scrape time. */
  lag(): Promise<{ topic: string; group: string; pending: number }[]>;
  inFlight(): { topic: string; group: string; inFlight: number }[];
}

/**
 * The queue pattern's metrics, per topic and group: prism_queue_{deliveries,acks,nacks,redeliveries,dead_letters}_total,
 * prism_queue_in_flight (deliveries held by this process's open streams) and prism_queue_lag (the group's pending
 * messages, asked of the backend at scrape time).
 */
export class QueueMetrics {
  private readonly deliveries: Counter<"topic" | "group">;
  private readonly acks: Counter<"topic" | "group">;
  private readonly nacks: Counter<"topic" | "group">;
  private readonly redeliveries: Counter<"topic" | "group">;
  private readonly deadLetters: Counter<"topic" | "group">;
  private readonly seen = new Set<string>();

  constructor(registry: Registry, source: LagSource) {
    // A pattern initialized again in the same process (a new Initialize) replaces the series of the previous one.
    for (const name of NAMES) registry.removeSingleMetric(name);
    const counter = (name: string, help: string) => new Counter({ name, help, labelNames: ["topic", "group"], registers: [registry] });
    this.deliveries = counter("prism_queue_deliveries_total", "Deliveries handed to consumers, redeliveries included.");
    this.acks = counter("prism_queue_acks_total", "Deliveries acked.");
    this.nacks = counter("prism_queue_nacks_total", "Deliveries nacked (given back for redelivery).");
    this.redeliveries = counter("prism_queue_redeliveries_total", "Deliveries with delivery_attempt > 1.");
    this.deadLetters = counter("prism_queue_dead_letters_total", "Messages moved to dead letters after max_deliveries.");
    const labels = (topic: string, group: string) => this.labels(topic, group);
    new Gauge({
      name: "prism_queue_in_flight",
      help: "Unacked deliveries held by the open Consume streams of this process.",
      labelNames: ["topic", "group"],
      registers: [registry],
      collect() {
        this.reset();
        for (const s of source.inFlight()) this.inc(labels(s.topic, s.group), s.inFlight);
      },
    });
    new Gauge({
      name: "prism_queue_lag",
      help: "Messages a group has not yet had delivered (pending in the backend), for groups consumed by this process.",
      labelNames: ["topic", "group"],
      registers: [registry],
      async collect() {
        this.reset();
        for (const s of await source.lag()) this.set(labels(s.topic, s.group), s.pending);
      },
    });
  }

  delivered(topic: string, group: string, attempt: number): void {
    const l = this.labels(topic, group);
    this.deliveries.inc(l);
    if (attempt > 1) this.redeliveries.inc(l);
  }
  acked(topic: string, group: string, n: number): void {
    if (n > 0) this.acks.inc(this.labels(topic, group), n);
  }
  nacked(topic: string, group: string): void {
    this.nacks.inc(this.labels(topic, group));
  }
  deadLettered(topic: string, group: string): void {
    this.deadLetters.inc(this.labels(topic, group));
  }

  private labels(topic: string, group: string): { topic: string; group: string } {
    const k = `${topic}\0${group}`;
    if (this.seen.has(k)) return { topic, group };
    if (this.seen.size >= MAX_SERIES) return { topic: "other", group: "other" };
    this.seen.add(k);
    return { topic, group };
  }
}
