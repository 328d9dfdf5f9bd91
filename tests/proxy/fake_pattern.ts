/**
 * An in-process stand-in for a pattern that runs elsewhere (`address:` namespaces):
 * serves LifecycleInterface and KeyValueBasicInterface on a real gRPC port and
 * records what reached it — metadata, deadlines, cancellations, Initialize config —
 * so tests can check what the proxy propagates.
 */
import * as grpc from "@grpc/grpc-js";
import { KeyValueBasicInterface } from "../../proto/gen/prism/interfaces/keyvalue/keyvalue_basic_pb";
import { HealthStatus, LifecycleInterface } from "../../proto/gen/prism/interfaces/lifecycle_pb";
import { Code, PrismError } from "../../sdk/grpc/errors";
import { HealthService, Serving } from "../../sdk/grpc/health";
import { addService } from "../../sdk/grpc/server";
import { bindServer, serverOptions } from "../../sdk/grpc/server_factory";

/** What one data call looked like when it reached the fake pattern. */
export interface SeenCall {
  key: string;
  metadata: Record<string, string>;
  /** Absolute deadline in ms since epoch (Infinity when none). */
  deadline: number;
  receivedAt: number;
  /** Set when the call was cancelled (the proxy relayed the client's reset). */
  cancelledAt?: number;
}

export interface FakePattern {
  readonly address: string;
  readonly port: number;
  readonly calls: SeenCall[];
  readonly initConfigs: Record<string, unknown>[];
  /** Its grpc.health.v1 service (SERVING from the start): set "" to NOT_SERVING to report its backend gone. */
  readonly health: HealthService;
  stop(): void;
}

const enc = new TextEncoder();

/** Starts the fake on port (0 = any). Keys: "slow" waits until cancelled; "fail" answers RESOURCE_EXHAUSTED with trailing metadata. */
export async function startFakePattern(port = 0): Promise<FakePattern> {
  const server = new grpc.Server(serverOptions);
  const calls: SeenCall[] = [];
  const initConfigs: Record<string, unknown>[] = [];
  const health = new HealthService(Serving.SERVING);
  health.addTo(server);
  const record = (key: string, ctx: { metadata: grpc.Metadata; deadline: number; signal: AbortSignal }): SeenCall => {
    const md: Record<string, string> = {};
    for (const [k, v] of Object.entries(ctx.metadata.getMap())) md[k] = String(v);
    const seen: SeenCall = { key, metadata: md, deadline: ctx.deadline, receivedAt: Date.now() };
    ctx.signal.addEventListener("abort", () => (seen.cancelledAt = Date.now()), { once: true });
    calls.push(seen);
    return seen;
  };
  addService(server, LifecycleInterface, {
    initialize: (req) => {
      initConfigs.push((req.config ?? {}) as Record<string, unknown>);
      return {
        success: true,
        metadata: {
          name: "fake",
          version: "9.9.9",
          interfaces: [{ name: KeyValueBasicInterface.typeName, protoFile: "prism/interfaces/keyvalue/keyvalue_basic.proto", version: "v1" }],
        },
      };
    },
    start: () => ({ success: true, dataEndpoint: "203.0.113.1:1" }),
    healthCheck: () => ({ status: HealthStatus.HEALTHY, message: "", details: { fake: "yes" } }),
    drain: () => ({ success: true }),
    stop: () => ({ success: true }),
  });
  addService(server, KeyValueBasicInterface, {
    async get(req, ctx) {
      const seen = record(req.key, ctx);
      if (req.key === "slow") {
        await new Promise<void>((resolve) => (ctx.signal.aborted ? resolve() : ctx.signal.addEventListener("abort", () => resolve(), { once: true })));
        throw new PrismError(Code.CANCELLED, "cancelled");
      }
      if (req.key === "fail") throw new PrismError(Code.RESOURCE_EXHAUSTED, "slow down, ünïcode", { metadata: { "retry-after": "3" } });
      return { found: true, value: enc.encode(JSON.stringify(seen.metadata)) };
    },
    set: () => ({ success: true }),
    delete: () => ({ success: true }),
    exists: () => ({ exists: false }),
  });
  const bound = await bindServer(server, "127.0.0.1", port);
  return { address: `127.0.0.1:${bound}`, port: bound, calls, initConfigs, health, stop: () => server.forceShutdown() };
}
