import { Counter, Gauge, Histogram, type Registry } from "prom-client";

/** What a running capture reports to its metrics. */
export interface CaptureReadings {
  readonly lagBytes: number;
  readonly lagSeconds: number;
  readonly checkpointAgeSeconds: number;
  readonly state: string;
  pending(): number;
}

/** The CDC pattern's metrics (prefix prism_cdc_), read from the capture at scrape time where they are levels. */
export class CdcMetrics {
  readonly events: Counter<"table" | "operation">;
  readonly duplicates: Counter;
  readonly errors: Counter<"kind">;
  readonly commitToSink: Histogram;
  private readings: CaptureReadings | undefined;

  constructor(registry: Registry) {
    const read =
      <T>(f: (r: CaptureReadings) => T, otherwise: T) =>
      () =>
        this.readings ? f(this.readings) : otherwise;
    this.events = new Counter({
      name: "prism_cdc_events_total",
      help: "Row changes delivered to the sink",
      labelNames: ["table", "operation"],
      registers: [registry],
    });
    this.duplicates = new Counter({
      name: "prism_cdc_duplicates_dropped_total",
      help: "Changes replayed by the slot that the checkpoint shows delivered already, dropped",
      registers: [registry],
    });
    this.errors = new Counter({
      name: "prism_cdc_errors_total",
      help: "Failures by kind: source, sink, state, wal_limit",
      labelNames: ["kind"],
      registers: [registry],
    });
    this.commitToSink = new Histogram({
      name: "prism_cdc_commit_to_sink_seconds",
      help: "From a change's commit in PostgreSQL to the sink's acknowledgement of its event",
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers: [registry],
    });
    const gauge = (name: string, help: string, value: () => number) =>
      new Gauge({
        name,
        help,
        registers: [registry],
        collect() {
          this.set(value());
        },
      });
    gauge(
      "prism_cdc_lag_bytes",
      "WAL the replication slot retains beyond its confirmed LSN",
      read((r) => r.lagBytes, 0),
    );
    gauge(
      "prism_cdc_lag_seconds",
      "Age of the oldest change captured and not yet acknowledged by the sink",
      read((r) => r.lagSeconds, 0),
    );
    gauge(
      "prism_cdc_checkpoint_age_seconds",
      "Time since the checkpoint last moved while changes wait",
      read((r) => r.checkpointAgeSeconds, 0),
    );
    gauge(
      "prism_cdc_pending_changes",
      "Changes captured and not yet in the sink",
      read((r) => r.pending(), 0),
    );
    gauge(
      "prism_cdc_wal_limit_exceeded",
      "1 while the slot retains more WAL than max_lag_bytes",
      read((r) => (r.state === "wal_limit_exceeded" ? 1 : 0), 0),
    );
  }

  bind(readings: CaptureReadings): void {
    this.readings = readings;
  }
}
