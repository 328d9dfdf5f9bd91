import http2 from "node:http2";
import { answerNonGrpcRequest, guardH2Server, isGrpcRequest } from "@prism/sdk";
import type { HostPort } from "../address";
import type { TlsMaterial } from "../security/tls";
import { applyConnectionLimits, type ConnectionLimits, DEFAULT_CONNECTION_LIMITS } from "./connection_limits";
import { H2_SETTINGS } from "./settings";

function ignore(): void {}

/** Handles one incoming HTTP/2 stream (one gRPC call). */
export type StreamHandler = (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => void;

/**
 * The client-facing HTTP/2 listener — plaintext (h2c), or TLS when given
 * certificates (client certificates required when a CA is given: mTLS) —
 * accepts connections, hands every stream to the handler, and closes
 * gracefully (GOAWAY, then wait).
 */
export class H2Listener {
  private readonly server: http2.Http2Server | http2.Http2SecureServer;
  private readonly sessions = new Set<http2.ServerHttp2Session>();

  constructor(
    handler: StreamHandler,
    tls?: TlsMaterial,
    limits: ConnectionLimits = DEFAULT_CONNECTION_LIMITS,
    refused: (reason: string) => void = () => undefined,
  ) {
    const options = {
      // gRPC messages up to 16 MiB, as the SDK's servers allow.
      maxSessionMemory: 64,
      settings: { ...H2_SETTINGS, maxConcurrentStreams: limits.maxStreamsPerConnection },
    };
    this.server = tls
      ? http2.createSecureServer({ ...options, ...tls, requestCert: tls.ca !== undefined, rejectUnauthorized: tls.ca !== undefined, allowHTTP1: false })
      : http2.createServer(options);
    this.server.on("session", (s: http2.ServerHttp2Session) => {
      this.sessions.add(s);
      s.on("error", () => undefined);
      s.once("close", () => this.sessions.delete(s));
    });
    guardH2Server(this.server, { batchWrites: true });
    applyConnectionLimits(this.server, limits, refused);
    this.server.on("stream", (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => {
      // An 'error' with no listener is thrown, and would end the process: every stream gets one before any
      // code of ours can answer it (the handlers add their own to act on errors).
      stream.on("error", ignore);
      if (!isGrpcRequest(headers)) return answerNonGrpcRequest(stream);
      handler(stream, headers);
    });
    this.server.on("sessionError", () => undefined);
  }

  /** Binds host:port (port 0 picks one) and returns the bound port. */
  listen(addr: HostPort): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(addr.port, addr.host, () => {
        this.server.off("error", reject);
        const a = this.server.address();
        resolve(typeof a === "object" && a !== null ? a.port : addr.port);
      });
    });
  }

  /** New certificates for new connections; connections already open keep theirs. */
  setTls(tls: TlsMaterial): void {
    (this.server as http2.Http2SecureServer).setSecureContext({ ...tls });
  }

  /** Open client connections. */
  get connections(): number {
    return this.sessions.size;
  }

  /** Stops accepting connections and sends GOAWAY, so clients open no new calls here. */
  stopAccepting(): void {
    this.server.close();
    for (const s of this.sessions) {
      try {
        s.close();
      } catch {
        /* already closing */
      }
    }
  }

  /** Destroys what is still open. */
  destroy(): void {
    for (const s of this.sessions) s.destroy();
    this.sessions.clear();
  }
}
