import * as grpc from "@grpc/grpc-js";

/** One export request a collector stand-in received. */
export interface Received {
  transport: "http" | "grpc";
  /** URL path (HTTP) or gRPC method path. */
  path: string;
  /** content-type (HTTP) or "application/grpc". */
  contentType: string;
  body: Uint8Array;
}

/**
 * A stand-in for an OpenTelemetry collector: an HTTP server (OTLP/HTTP, any path) and a gRPC server
 * (opentelemetry.proto.collector.trace.v1.TraceService/Export) that record every request and answer
 * with an empty success response. Protobuf strings are plain UTF-8 in the body, so tests look for a
 * span or service name with `contains`.
 */
export class OtlpCollector {
  readonly received: Received[] = [];
  /** Export requests answered (also counted when bodies are not kept). */
  requests = 0;
  private http: ReturnType<typeof Bun.serve> | undefined;
  private grpcServer: grpc.Server | undefined;
  httpPort = 0;
  grpcPort = 0;

  /** keep = false: count requests only (a long benchmark would otherwise hold every body). */
  constructor(private readonly keep = true) {}

  async start(): Promise<this> {
    this.http = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      fetch: async (req) => {
        const body = new Uint8Array(await req.arrayBuffer());
        const contentType = req.headers.get("content-type") ?? "";
        this.requests++;
        if (this.keep) this.received.push({ transport: "http", path: new URL(req.url).pathname, contentType, body });
        // An empty ExportTraceServiceResponse in the encoding asked for.
        return contentType.includes("json")
          ? new Response("{}", { headers: { "content-type": "application/json" } })
          : new Response(new Uint8Array(0), { headers: { "content-type": "application/x-protobuf" } });
      },
    });
    this.httpPort = this.http.port!;
    const raw = (b: Buffer) => b;
    const path = "/opentelemetry.proto.collector.trace.v1.TraceService/Export";
    this.grpcServer = new grpc.Server();
    this.grpcServer.addService(
      {
        Export: {
          path,
          requestStream: false,
          responseStream: false,
          requestSerialize: raw,
          requestDeserialize: raw,
          responseSerialize: raw,
          responseDeserialize: raw,
        },
      },
      {
        Export: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
          this.requests++;
          if (this.keep) this.received.push({ transport: "grpc", path, contentType: "application/grpc", body: new Uint8Array(call.request) });
          cb(null, Buffer.alloc(0));
        },
      },
    );
    this.grpcPort = await new Promise<number>((resolve, reject) =>
      this.grpcServer!.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port))),
    );
    return this;
  }

  /** Requests whose body holds `text` (a span, attribute or service name). */
  containing(text: string): Received[] {
    const needle = new TextEncoder().encode(text);
    return this.received.filter((r) => indexOf(r.body, needle) >= 0);
  }

  /** Waits until some request holds `text`; false after timeoutMs. */
  async waitFor(text: string, timeoutMs = 10_000): Promise<boolean> {
    const end = Date.now() + timeoutMs;
    while (Date.now() < end) {
      if (this.containing(text).length > 0) return true;
      await Bun.sleep(50);
    }
    return this.containing(text).length > 0;
  }

  stop(): void {
    this.http?.stop(true);
    this.grpcServer?.forceShutdown();
  }
}

function indexOf(hay: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= hay.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer;
    return i;
  }
  return -1;
}
