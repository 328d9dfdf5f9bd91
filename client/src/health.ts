import { Health, HealthCheckResponse_ServingStatus as Serving } from "../../proto/gen/grpc/health/v1/health_pb";
import { HealthStatus, LifecycleInterface } from "../../proto/gen/prism/interfaces/lifecycle_pb";
import { definePattern, type ModuleContext } from "./pattern";
import type { CallOptions } from "./transport";

/** The health of the path a call takes: the proxy, the namespace, and the pattern's own HealthCheck (with its details). */
export interface HealthReport {
  proxy: string;
  namespace: string;
  namespaceStatus: string;
  pattern: { status: string; message: string; details: Record<string, string> };
  /** Proxy and namespace SERVING and the pattern HEALTHY. */
  ok: boolean;
}

/** grpc.health.v1 (proxy: service "", namespace: its name) and LifecycleInterface.HealthCheck through the proxy. */
export class HealthClient {
  constructor(private readonly ctx: ModuleContext) {}

  /** Serving status of a service name through grpc.health.v1 ("" = the proxy itself). */
  async check(service = "", opts?: CallOptions): Promise<string> {
    const r = await this.ctx.transport.unary<{ status: Serving }>(Health, "check", { service }, "read", opts);
    return Serving[r.status] ?? String(r.status);
  }
  async report(opts?: CallOptions): Promise<HealthReport> {
    const [proxy, namespaceStatus, p] = await Promise.all([
      this.check("", opts),
      this.check(this.ctx.namespace, opts),
      this.ctx.transport.unary<{ status: HealthStatus; message: string; details: Record<string, string> }>(LifecycleInterface, "healthCheck", {}, "read", opts),
    ]);
    const status = HealthStatus[p.status] ?? String(p.status);
    return {
      proxy,
      namespace: this.ctx.namespace,
      namespaceStatus,
      pattern: { status, message: p.message, details: p.details },
      ok: proxy === "SERVING" && namespaceStatus === "SERVING" && p.status === HealthStatus.HEALTHY,
    };
  }
}

export const health = definePattern({ name: "health", service: Health, create: (ctx) => new HealthClient(ctx) });
