import { validate, ConfigError, type Schema, type DriverEnv } from "@prism/sdk";

/** Settings of the in-memory store (the SDK handles max_key_size, max_value_size, max_batch_size, namespace). */
export interface MemStoreConfig {
  /** Most key-value keys; a write that would add one more is RESOURCE_EXHAUSTED. */
  maxKeys: number;
  /** Most lists; a push that would create one more is RESOURCE_EXHAUSTED. */
  maxLists: number;
  /** How often expired keys are reclaimed, in ms. */
  sweepIntervalMs: number;
  /** Most expired keys reclaimed per sweep, bounding the pause. */
  sweepLimit: number;
  /** Messages buffered per subscriber before the oldest is dropped. */
  subscriberBuffer: number;
  /** Records kept per stream before the oldest is trimmed. */
  maxStreamRecords: number;
  /** Most streams; an append that would create one more is RESOURCE_EXHAUSTED. */
  maxStreams: number;
}

/** The keys a memstore config file may hold, besides the SDK's reserved ones. */
export const memstoreConfigSchema = {
  type: "object",
  fields: {
    max_keys: { type: "integer", min: 1, default: 10_000 },
    max_lists: { type: "integer", min: 1, default: 10_000 },
    sweep_interval: { type: "duration", default: "1s" },
    sweep_limit: { type: "integer", min: 1, default: 10_000 },
    subscriber_buffer: { type: "integer", min: 1, default: 1_000 },
    max_stream_records: { type: "integer", min: 1, default: 100_000 },
    max_streams: { type: "integer", min: 1, default: 10_000 },
  },
} as const satisfies Schema;

/** Validates the pattern config (unknown keys and wrong types name the key and line). */
export function parseConfig(raw: Record<string, unknown>, env: Pick<DriverEnv, "configFile" | "lineOf">): MemStoreConfig {
  const c = validate<{
    max_keys: number;
    max_lists: number;
    sweep_interval: number;
    sweep_limit: number;
    subscriber_buffer: number;
    max_stream_records: number;
    max_streams: number;
  }>(raw, memstoreConfigSchema, { file: env.configFile, lineOf: env.lineOf });
  if (c.sweep_interval <= 0) {
    throw new ConfigError(env.configFile, "sweep_interval", env.lineOf?.(["sweep_interval"]), "must be longer than 0, e.g. 1s");
  }
  return {
    maxKeys: c.max_keys,
    maxLists: c.max_lists,
    sweepIntervalMs: c.sweep_interval,
    sweepLimit: c.sweep_limit,
    subscriberBuffer: c.subscriber_buffer,
    maxStreamRecords: c.max_stream_records,
    maxStreams: c.max_streams,
  };
}
