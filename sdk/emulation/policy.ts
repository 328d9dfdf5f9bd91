import type { Schema } from "../config/schema";

/**
 * How the SDK may provide one key-value feature:
 * - auto: the driver's own implementation when it has one, else the SDK's emulation when it can build one;
 * - force: the SDK's emulation even over a native implementation (to compare both on the same data, or to test
 *   the emulation against a backend that has everything);
 * - off: the driver's own implementation or nothing (the feature is UNAVAILABLE).
 */
export type EmulationMode = "auto" | "force" | "off";

/** The `emulation` block of a pattern's config (read by the SDK, never passed to the driver). */
export interface EmulationPolicy {
  scan: EmulationMode;
  batch: EmulationMode;
  expiration: EmulationMode;
  /** Single operations in flight for one emulated batch (or one emulated scan page's value reads). */
  concurrency: number;
  /** How often the expiry sweeper runs (ms). */
  sweepIntervalMs: number;
  /** Most keys one sweep examines, so a burst of expiries never makes one sweep long. */
  sweepLimit: number;
  /** Most keys with a recorded expiry the sweeper remembers; beyond it an expired key is reclaimed when read. */
  sweepTracked: number;
  /** Bytes per stored chunk of a value past the single-message limit. */
  chunkBytes: number;
  /** How long an unreferenced chunk set nobody touches is kept (covers a reader's or writer's next touch). */
  chunkGraceMs: number;
  /** How often unreferenced chunk sets are swept. */
  chunkSweepIntervalMs: number;
}

export const DEFAULT_EMULATION: EmulationPolicy = {
  scan: "auto",
  batch: "auto",
  expiration: "auto",
  concurrency: 16,
  sweepIntervalMs: 1_000,
  sweepLimit: 1_000,
  sweepTracked: 100_000,
  chunkBytes: 512 * 1024,
  chunkGraceMs: 5_000,
  chunkSweepIntervalMs: 5_000,
};

const MODES = ["auto", "force", "off"] as const;

/** Schema of the config's `emulation` block. */
export const emulationSchema: Schema = {
  type: "object",
  fields: {
    scan: { type: "string", enum: MODES, default: DEFAULT_EMULATION.scan },
    batch: { type: "string", enum: MODES, default: DEFAULT_EMULATION.batch },
    expiration: { type: "string", enum: MODES, default: DEFAULT_EMULATION.expiration },
    concurrency: { type: "integer", min: 1, max: 1024, default: DEFAULT_EMULATION.concurrency },
    sweep_interval: { type: "duration", default: "1s" },
    sweep_limit: { type: "integer", min: 1, default: DEFAULT_EMULATION.sweepLimit },
    sweep_tracked: { type: "integer", min: 0, default: DEFAULT_EMULATION.sweepTracked },
    chunk_size: { type: "bytes", default: DEFAULT_EMULATION.chunkBytes },
    chunk_grace: { type: "duration", default: "5s" },
    chunk_sweep_interval: { type: "duration", default: "5s" },
  },
};

/** The validated block (snake_case, durations in ms) as an EmulationPolicy. */
export function toPolicy(v: {
  scan: EmulationMode;
  batch: EmulationMode;
  expiration: EmulationMode;
  concurrency: number;
  sweep_interval: number;
  sweep_limit: number;
  sweep_tracked: number;
  chunk_size: number;
  chunk_grace: number;
  chunk_sweep_interval: number;
}): EmulationPolicy {
  return {
    scan: v.scan,
    batch: v.batch,
    expiration: v.expiration,
    concurrency: v.concurrency,
    sweepIntervalMs: Math.max(10, v.sweep_interval),
    sweepLimit: v.sweep_limit,
    sweepTracked: v.sweep_tracked,
    chunkBytes: Math.max(1024, v.chunk_size),
    chunkGraceMs: Math.max(10, v.chunk_grace),
    chunkSweepIntervalMs: Math.max(10, v.chunk_sweep_interval),
  };
}
