import type { JsonObject } from "@bufbuild/protobuf";
import type { DrainResponse, HealthCheckResponse, InitializeResponse, StartResponse, StopResponse } from "../../proto/gen/prism/interfaces/lifecycle_pb";

/**
 * How the supervisor drives one pattern's lifecycle, whether over the control
 * stream of a launched pattern or LifecycleInterface of a remote one. Every call
 * is bounded by timeoutMs and rejects with a PrismError (UNAVAILABLE or
 * DEADLINE_EXCEEDED) rather than hang.
 */
export interface LifecycleChannel {
  initialize(req: { name: string; version: string; config: JsonObject }, timeoutMs: number): Promise<InitializeResponse>;
  start(timeoutMs: number): Promise<StartResponse>;
  healthCheck(timeoutMs: number): Promise<HealthCheckResponse>;
  drain(req: { timeoutSeconds: number; reason: string }, timeoutMs: number): Promise<DrainResponse>;
  stop(req: { timeoutSeconds: number }, timeoutMs: number): Promise<StopResponse>;
  /** Resolves with a reason when the channel is gone for good (control stream lost); never for a remote channel. */
  readonly lost: Promise<string>;
  close(): void;
}
