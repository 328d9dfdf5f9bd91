import type http2 from "node:http2";
import type { DescService } from "@bufbuild/protobuf";
import type { Logger } from "@prism/sdk";
import { Counter, type Registry } from "prom-client";

/** What replaces a deprecated service, for the log line (docs/migration.md has the method-by-method table). */
const REPLACEMENT: Record<string, string> = {
  "prism.interfaces.keyvalue.KeyValueBasicInterface": "prism.patterns.keyvalue.KeyValuePattern",
  "prism.interfaces.keyvalue.KeyValueTTLInterface": "prism.patterns.keyvalue.KeyValuePattern",
  "prism.interfaces.keyvalue.KeyValueScanInterface": "prism.patterns.keyvalue.KeyValuePattern",
  "prism.interfaces.keyvalue.KeyValueBatchInterface": "prism.patterns.keyvalue.KeyValuePattern",
  "prism.interfaces.pubsub.PubSubBasicInterface": "prism.patterns.producer.ProducerPattern + prism.patterns.consumer.ConsumerPattern",
};

/** Callers remembered for the once-per-caller log line; past it, the set starts afresh (a line may repeat, memory stays bounded). */
const MAX_CALLERS = 10_000;

/**
 * Calls to services marked `option deprecated = true` in proto/: counted per method in
 * prism_deprecated_requests_total{namespace,service,method}, and logged once per caller and service (the caller
 * is the peer address and its user agent), so an operator sees who still has to migrate.
 */
export class DeprecatedCalls {
  private readonly byPath = new Map<string, { service: string; method: string }>();
  private readonly counter: Counter<"namespace" | "service" | "method">;
  private readonly children = new Map<string, Counter.Internal>();
  private readonly seen = new Set<string>();

  constructor(
    services: readonly DescService[],
    registry: Registry,
    private readonly logger: Logger,
  ) {
    for (const s of services) if (s.deprecated) for (const m of s.methods) this.byPath.set(`/${s.typeName}/${m.name}`, { service: s.typeName, method: m.name });
    this.counter = new Counter({
      name: "prism_deprecated_requests_total",
      help: "Calls to deprecated services (option deprecated in proto/), per namespace and method: who still has to migrate (docs/migration.md).",
      labelNames: ["namespace", "service", "method"],
      registers: [registry],
    });
  }

  /** Counts (and, the first time for this caller and service, logs) a call when its method is deprecated. */
  observe(path: string, namespace: string, stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): void {
    const d = this.byPath.get(path);
    if (d === undefined) return;
    const id = `${namespace}\0${path}`;
    let c = this.children.get(id);
    if (c === undefined) {
      c = this.counter.labels(namespace, d.service, d.method);
      this.children.set(id, c);
    }
    c.inc();
    const socket = stream.session?.socket;
    const caller = `${socket?.remoteAddress ?? "unknown"} ${headers["user-agent"] ?? "-"}`;
    const key = `${caller}\0${d.service}`;
    if (this.seen.has(key)) return;
    if (this.seen.size >= MAX_CALLERS) this.seen.clear();
    this.seen.add(key);
    this.logger.warn("deprecated service called", {
      caller,
      namespace,
      service: d.service,
      method: d.method,
      replacement: REPLACEMENT[d.service] ?? "",
      guide: "docs/migration.md",
    });
  }
}
