import type { JsonObject } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import type { ConnectionOptions } from "node:tls";
import { LifecycleInterface } from "../../proto/gen/prism/interfaces/lifecycle_pb";
import { createClient, type ClientHandle } from "../../sdk/grpc/client";
import type { LifecycleChannel } from "./channel";

/** The longest wait between two attempts to reach a remote pattern (lifecycle reconnects and the supervisor's retries). */
export const REMOTE_RETRY_MAX_MS = 1_000;

/** LifecycleInterface over gRPC, for a namespace whose pattern runs elsewhere (`address:`). */
export class GrpcLifecycleChannel implements LifecycleChannel {
  private readonly handle: ClientHandle<typeof LifecycleInterface>;
  /** A remote pattern is not ours: losing it is a health failure, not the end of the channel. */
  readonly lost = new Promise<string>(() => undefined);

  constructor(address: string, tls?: ConnectionOptions) {
    const credentials = tls
      ? grpc.credentials.createSsl((tls.ca as Buffer | undefined) ?? null, (tls.key as Buffer | undefined) ?? null, (tls.cert as Buffer | undefined) ?? null)
      : undefined;
    // grpc-js waits up to 120 s between reconnects by default; a remote pattern back after an outage must be seen
    // within about a second, so the channel's own backoff stays short (the supervisor's retries are bounded too).
    this.handle = createClient(LifecycleInterface, address, credentials, {
      "grpc.initial_reconnect_backoff_ms": 100,
      "grpc.max_reconnect_backoff_ms": REMOTE_RETRY_MAX_MS,
      ...(tls?.servername && { "grpc.ssl_target_name_override": tls.servername }),
    });
  }

  initialize(req: { name: string; version: string; config: JsonObject }, timeoutMs: number) {
    return this.handle.client.initialize(req, { timeoutMs });
  }
  start(timeoutMs: number) {
    return this.handle.client.start({}, { timeoutMs });
  }
  healthCheck(timeoutMs: number) {
    return this.handle.client.healthCheck({}, { timeoutMs });
  }
  drain(req: { timeoutSeconds: number; reason: string }, timeoutMs: number) {
    return this.handle.client.drain(req, { timeoutMs });
  }
  stop(req: { timeoutSeconds: number }, timeoutMs: number) {
    return this.handle.client.stop(req, { timeoutMs });
  }
  close(): void {
    this.handle.close();
  }
}
