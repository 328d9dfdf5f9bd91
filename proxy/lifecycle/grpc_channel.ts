import type { JsonObject } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import type { ConnectionOptions } from "node:tls";
import { LifecycleInterface } from "../../proto/gen/prism/interfaces/lifecycle_pb";
import { createClient, type ClientHandle } from "../../sdk/grpc/client";
import type { LifecycleChannel } from "./channel";

/** LifecycleInterface over gRPC, for a namespace whose pattern runs elsewhere (`address:`). */
export class GrpcLifecycleChannel implements LifecycleChannel {
  private readonly handle: ClientHandle<typeof LifecycleInterface>;
  /** A remote pattern is not ours: losing it is a health failure, not the end of the channel. */
  readonly lost = new Promise<string>(() => undefined);

  constructor(address: string, tls?: ConnectionOptions) {
    const credentials = tls
      ? grpc.credentials.createSsl((tls.ca as Buffer | undefined) ?? null, (tls.key as Buffer | undefined) ?? null, (tls.cert as Buffer | undefined) ?? null)
      : undefined;
    this.handle = createClient(LifecycleInterface, address, credentials, tls?.servername ? { "grpc.ssl_target_name_override": tls.servername } : undefined);
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
