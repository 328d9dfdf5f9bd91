import type { JsonObject } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { isIP } from "node:net";
import { checkServerIdentity, type ConnectionOptions, type PeerCertificate } from "node:tls";
import { LifecycleInterface } from "../../proto/gen/prism/interfaces/lifecycle_pb";
import { createClient, type ClientHandle } from "@prism/sdk";
import type { LifecycleChannel } from "./channel";

/** The longest wait between two attempts to reach a remote pattern (lifecycle reconnects and the supervisor's retries). */
export const REMOTE_RETRY_MAX_MS = 1_000;

/** The TLS server name sent to a pattern dialled by IP address (never resolved; the certificate is checked against the IP). */
const IP_PLACEHOLDER_NAME = "pattern-by-ip-address.invalid";

/** The IP address of host:port / [v6]:port, or undefined when the host is a name. */
function ipOf(address: string): string | undefined {
  const host = address.slice(0, address.lastIndexOf(":")).replace(/^\[|\]$/g, "");
  return isIP(host) ? host : undefined;
}

/** LifecycleInterface over gRPC, for a namespace whose pattern runs elsewhere (`address:`). */
export class GrpcLifecycleChannel implements LifecycleChannel {
  private readonly handle: ClientHandle<typeof LifecycleInterface>;
  /** A remote pattern is not ours: losing it is a health failure, not the end of the channel. */
  readonly lost = new Promise<string>(() => undefined);

  constructor(address: string, tls?: ConnectionOptions) {
    // Bun refuses an IP address as TLS server name (SNI), which grpc-js sends by default: for a pattern given by
    // IP, a placeholder name goes out instead, and the certificate is checked against the IP (its IP SAN).
    const ip = tls && !tls.servername ? ipOf(address) : undefined;
    const verify = ip ? { checkServerIdentity: (_name: string, cert: PeerCertificate) => checkServerIdentity(ip, cert) } : undefined;
    const credentials = tls
      ? grpc.credentials.createSsl(
          (tls.ca as Buffer | undefined) ?? null,
          (tls.key as Buffer | undefined) ?? null,
          (tls.cert as Buffer | undefined) ?? null,
          verify,
        )
      : undefined;
    const serverName = tls?.servername ?? (ip ? IP_PLACEHOLDER_NAME : undefined);
    // grpc-js waits up to 120 s between reconnects by default; a remote pattern back after an outage must be seen
    // within about a second, so the channel's own backoff stays short (the supervisor's retries are bounded too).
    this.handle = createClient(LifecycleInterface, address, credentials, {
      "grpc.initial_reconnect_backoff_ms": 100,
      "grpc.max_reconnect_backoff_ms": REMOTE_RETRY_MAX_MS,
      ...(serverName && { "grpc.ssl_target_name_override": serverName }),
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
