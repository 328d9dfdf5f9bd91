import { AlwaysOffSampler, AlwaysOnSampler, ParentBasedSampler, type Sampler, TraceIdRatioBasedSampler } from "@opentelemetry/sdk-trace-base";

/**
 * Where and how spans are exported and which are kept, read from the standard OpenTelemetry
 * environment variables an operator already sets for every other service:
 *
 * - `OTEL_EXPORTER_OTLP_PROTOCOL` (or `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL`): `http/protobuf` (default),
 *   `grpc` or `http/json`.
 * - `OTEL_EXPORTER_OTLP_ENDPOINT`: the collector's base URL. For HTTP `/v1/traces` is appended; for gRPC
 *   it is the address itself. Defaults: `http://localhost:4318` (HTTP), `http://localhost:4317` (gRPC).
 * - `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`: the full traces URL, used as given; wins over the base.
 * - `OTEL_TRACES_SAMPLER`: `parentbased_always_on` (default), `parentbased_traceidratio`,
 *   `parentbased_always_off`, `always_on`, `always_off`, `traceidratio`; `OTEL_TRACES_SAMPLER_ARG` is the
 *   ratio (0..1, default 1) of the ratio samplers. Parent-based samplers follow the caller's decision
 *   (traceparent's sampled flag) and apply the ratio to new traces only.
 *
 * Other `OTEL_EXPORTER_OTLP_*` settings (headers, timeout, compression, certificates) are read as OTel's
 * exporters read them: by OTel's gRPC exporter, and for HTTP by otlp_fetch.ts.
 */
export type OtlpProtocol = "http/protobuf" | "http/json" | "grpc";

export interface OtlpTarget {
  protocol: OtlpProtocol;
  /** Full URL: http(s)://host:port/v1/traces for HTTP, http(s)://host:port for gRPC. */
  url: string;
}

type Env = Readonly<Record<string, string | undefined>>;

const PROTOCOLS: readonly OtlpProtocol[] = ["http/protobuf", "http/json", "grpc"];
const set = (v: string | undefined): string | undefined => (v === undefined || v.trim() === "" ? undefined : v.trim());

/** The OTLP protocol and traces URL the environment asks for; throws on an unknown protocol. */
export function otlpTarget(env: Env = process.env): OtlpTarget {
  const raw = set(env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL) ?? set(env.OTEL_EXPORTER_OTLP_PROTOCOL) ?? "http/protobuf";
  const protocol = raw.toLowerCase() as OtlpProtocol;
  if (!PROTOCOLS.includes(protocol)) {
    throw new Error(`OTEL_EXPORTER_OTLP_PROTOCOL: "${raw}" is not one of ${PROTOCOLS.join(", ")}`);
  }
  const signal = set(env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
  if (signal !== undefined) return { protocol, url: signal };
  const base = set(env.OTEL_EXPORTER_OTLP_ENDPOINT);
  if (protocol === "grpc") return { protocol, url: base ?? "http://localhost:4317" };
  return { protocol, url: `${(base ?? "http://localhost:4318").replace(/\/+$/, "")}/v1/traces` };
}

const SAMPLERS = ["always_on", "always_off", "traceidratio", "parentbased_always_on", "parentbased_always_off", "parentbased_traceidratio"] as const;

/** The sampler OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG name; throws on an unknown name or a bad ratio. */
export function samplerFromEnv(env: Env = process.env): Sampler {
  const name = (set(env.OTEL_TRACES_SAMPLER) ?? "parentbased_always_on").toLowerCase();
  if (!(SAMPLERS as readonly string[]).includes(name)) {
    throw new Error(`OTEL_TRACES_SAMPLER: "${name}" is not one of ${SAMPLERS.join(", ")}`);
  }
  const ratio = () => {
    const arg = set(env.OTEL_TRACES_SAMPLER_ARG);
    if (arg === undefined) return 1;
    const r = Number(arg);
    if (!Number.isFinite(r) || r < 0 || r > 1) throw new Error(`OTEL_TRACES_SAMPLER_ARG: "${arg}" is not a ratio between 0 and 1`);
    return r;
  };
  switch (name as (typeof SAMPLERS)[number]) {
    case "always_on":
      return new AlwaysOnSampler();
    case "always_off":
      return new AlwaysOffSampler();
    case "traceidratio":
      return new TraceIdRatioBasedSampler(ratio());
    case "parentbased_always_on":
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
    case "parentbased_always_off":
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case "parentbased_traceidratio":
      return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(ratio()) });
  }
}
