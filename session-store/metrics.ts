import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { Shard } from "./shards";

/** The Session Store's own metrics (beside the SDK's request and driver metrics). */
export class SessionMetrics {
  readonly moves: Counter;
  readonly conflicts: Counter;
  readonly applied: Counter<"result">;
  readonly lag: Histogram;
  readonly dropped: Counter;

  constructor(registry: Registry, shards: () => readonly Shard[]) {
    this.moves = new Counter({
      name: "session_store_moves_total",
      help: "Sessions moved to their owner shard after the shard set changed (on access or by the background pass).",
      registers: [registry],
    });
    this.conflicts = new Counter({
      name: "session_store_replication_conflicts_total",
      help: "Changes from another region at the same version as the local one, resolved by region id.",
      registers: [registry],
    });
    this.applied = new Counter({
      name: "session_store_replication_applied_total",
      help: "Changes received from other regions, by result (applied, ignored: older or already held, conflict).",
      labelNames: ["result"],
      registers: [registry],
    });
    this.dropped = new Counter({
      name: "session_store_replication_dropped_total",
      help: "Local changes dropped because the replication stream was unreachable for longer than the backlog holds.",
      registers: [registry],
    });
    this.lag = new Histogram({
      name: "session_store_replication_lag_seconds",
      help: "From a change's append in its region to its application here.",
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers: [registry],
    });
    new Gauge({
      name: "session_store_sessions",
      help: "Session keys per shard (tombstones and expired keys not yet removed included), counted at scrape time.",
      labelNames: ["shard"],
      registers: [registry],
      async collect() {
        this.reset();
        await Promise.all(
          shards().map(async (s) => {
            try {
              this.set({ shard: s.name }, await s.driver.count("session/"));
            } catch {
              // A shard that is down has no count; its absence from the scrape says so.
            }
          }),
        );
      },
    });
  }
}
