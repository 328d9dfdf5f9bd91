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
  private readonly byPath = new Map<string, DeprecatedMethod>();
  private readonly counter: Counter<"namespace" | "service" | "method">;
  private readonly seen = new Set<string>();
  /** Per connection, per service: the user agents already looked up in `seen` (a call on a known one costs two lookups). */
  private readonly known = new WeakMap<object, Map<string, Set<string>>>();

  constructor(
    services: readonly DescService[],
    registry: Registry,
    private readonly logger: Logger,
  ) {
    for (const s of services)
      if (s.deprecated) for (const m of s.methods) this.byPath.set(`/${s.typeName}/${m.name}`, { service: s.typeName, method: m.name, calls: new Map() });
    this.counter = new Counter({
      name: "prism_deprecated_requests_total",
      help: "Calls to deprecated services (option deprecated in proto/), per namespace and method: who still has to migrate (docs/migration.md).",
      labelNames: ["namespace", "service", "method"],
      registers: [registry],
      // Calls are counted in plain numbers (no label hashing per call) and added to the series when scraped.
      collect: () => this.flush(),
    });
  }

  /** Counts (and, the first time for this caller and service, logs) a call when its method is deprecated. */
  observe(path: string, namespace: string, stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders): void {
    const d = this.byPath.get(path);
    if (d === undefined) return;
    const count = d.calls.get(namespace);
    if (count !== undefined) count.n++;
    else d.calls.set(namespace, { n: 1, series: this.counter.labels(namespace, d.service, d.method) });
    const agent = headers["user-agent"] ?? "-";
    const session = stream.session ?? NO_SESSION;
    let services = this.known.get(session);
    if (services === undefined) this.known.set(session, (services = new Map()));
    let agents = services.get(d.service);
    if (agents === undefined) services.set(d.service, (agents = new Set()));
    if (agents.has(agent)) return;
    if (agents.size >= MAX_AGENTS_PER_CONNECTION) agents.clear();
    agents.add(agent);
    const caller = `${stream.session?.socket?.remoteAddress ?? "unknown"} ${agent}`;
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

  /** Adds the calls counted since the last flush to prism_deprecated_requests_total. */
  private flush(): void {
    for (const d of this.byPath.values())
      for (const count of d.calls.values()) {
        if (count.n === 0) continue;
        count.series.inc(count.n);
        count.n = 0;
      }
  }
}

interface DeprecatedMethod {
  service: string;
  method: string;
  /** Per namespace: calls since the last flush, and the series they go to. */
  calls: Map<string, { n: number; series: Counter.Internal }>;
}

/** Stands for the connection of a stream that has none (closed). */
const NO_SESSION = {};
/** User agents remembered per connection and service (a connection normally has one). */
const MAX_AGENTS_PER_CONNECTION = 64;
