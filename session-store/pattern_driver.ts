import type { Driver, HealthReport, HealthState } from "@prism/sdk";
import type { Replicator } from "./replication";
import type { Shard } from "./shards";
import type { SessionStore } from "./store";

/**
 * What the bindings serve: the store, its replicator, and the capabilities derived from the slots. Health is
 * degraded while some shards are down (only their sessions are unavailable), unhealthy when all are.
 */
export class SessionStoreInstance implements Driver {
  readonly name = "session-store";
  // biome-ignore lint/suspicious/noExplicitAny: the capabilities message (proto init shape) is built in capabilities.ts
  capabilities: any;

  constructor(
    readonly version: string,
    readonly store: SessionStore,
    private readonly shards: readonly Shard[],
    readonly replicator: Replicator | undefined,
    private readonly closeReplication: (() => Promise<void>) | undefined,
  ) {}

  async health(): Promise<HealthReport> {
    const reports = await Promise.all(
      this.store.shardList().map(async (s) => {
        try {
          return { shard: s.name, report: await s.driver.health() };
        } catch (err) {
          return { shard: s.name, report: { status: "unhealthy" as HealthState, message: String(err) } };
        }
      }),
    );
    const down = reports.filter((r) => r.report.status === "unhealthy");
    const details: Record<string, string> = { shards: String(reports.length), moving: String(this.store.moving) };
    for (const r of reports) details[`shard.${r.shard}`] = r.report.status;
    if (this.replicator) {
      details.replication_pending = String(this.replicator.pending);
      details.replication_dropped = String(this.replicator.dropped);
    }
    const lagging = (this.replicator?.pending ?? 0) > 0;
    const status: HealthState =
      down.length === reports.length ? "unhealthy" : down.length > 0 || lagging || reports.some((r) => r.report.status !== "healthy") ? "degraded" : "healthy";
    const message = down.length > 0 ? `shards down (their sessions are unavailable): ${down.map((r) => r.shard).join(", ")}` : undefined;
    return { status, message, details };
  }

  async close(): Promise<void> {
    await this.replicator?.stop();
    await this.store.close();
    const results = await Promise.allSettled([...this.shards.map((s) => s.driver.close()), ...(this.closeReplication ? [this.closeReplication()] : [])]);
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === "rejected");
    if (failed.length > 0)
      throw new AggregateError(
        failed.map((f) => f.reason),
        `closing ${failed.length} session-store backend(s) failed`,
      );
  }
}
