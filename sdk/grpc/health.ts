import type * as grpc from "@grpc/grpc-js";
import { Health, HealthCheckResponse_ServingStatus as Serving } from "../../proto/gen/grpc/health/v1/health_pb";
import { Code, PrismError } from "./errors";
import { addService } from "./server";

export { Serving };

/**
 * The standard grpc.health.v1 service. "" is the whole server; each registered
 * service name may carry its own status. Watch streams every change.
 */
export class HealthService {
  private readonly statuses = new Map<string, Serving>();
  private readonly watchers = new Set<(service: string, status: Serving) => void>();
  private readonly closed = new AbortController();

  constructor(initial: Serving = Serving.NOT_SERVING) {
    this.statuses.set("", initial);
  }

  set(service: string, status: Serving): void {
    if (this.statuses.get(service) === status) return;
    this.statuses.set(service, status);
    for (const w of this.watchers) w(service, status);
  }

  /** Sets every known service (and the server) at once, as on shutdown. */
  setAll(status: Serving): void {
    for (const s of [...this.statuses.keys()]) this.set(s, status);
  }

  /** Ends every Watch stream with UNAVAILABLE (on shutdown, so they do not hold the server open and watchers reconnect). */
  close(): void {
    this.closed.abort();
  }

  get(service: string): Serving | undefined {
    return this.statuses.get(service);
  }

  /**
   * Serves Check and Watch on `server`. `visible` decides per call whether the caller may learn a service's
   * status; for one it may not, the answer is exactly that of a service that does not exist.
   */
  addTo(server: grpc.Server, visible: (service: string, md: grpc.Metadata) => boolean = () => true): void {
    addService(server, Health, {
      check: (req, ctx) => {
        const status = visible(req.service, ctx.metadata) ? this.statuses.get(req.service) : undefined;
        if (status === undefined) throw new PrismError(Code.NOT_FOUND, `unknown service ${req.service}`);
        return { status };
      },
      watch: (req, ctx) => this.watch(req.service, AbortSignal.any([ctx.signal, this.closed.signal]), visible(req.service, ctx.metadata)),
    });
  }

  private async *watch(service: string, signal: AbortSignal, visible: boolean): AsyncIterable<{ status: Serving }> {
    const queue: Serving[] = [visible ? (this.statuses.get(service) ?? Serving.SERVICE_UNKNOWN) : Serving.SERVICE_UNKNOWN];
    let wake: (() => void) | undefined;
    const w = (s: string, status: Serving) => {
      if (s !== service || !visible) return;
      queue.push(status);
      wake?.();
    };
    const onAbort = () => wake?.();
    this.watchers.add(w);
    signal.addEventListener("abort", onAbort);
    try {
      while (!signal.aborted) {
        while (queue.length > 0) yield { status: queue.shift()! };
        await new Promise<void>((r) => (wake = r));
        wake = undefined;
      }
      if (this.closed.signal.aborted) throw new PrismError(Code.UNAVAILABLE, "server is shutting down: watch again elsewhere or after it restarts");
    } finally {
      this.watchers.delete(w);
      signal.removeEventListener("abort", onAbort);
    }
  }
}
