import {
  OTLPExporterBase,
  OTLPExporterError,
  createOtlpNetworkExportDelegate,
  type ExportResponse,
  type IExporterTransport,
  type IOtlpExportDelegate,
} from "@opentelemetry/otlp-exporter-base";
import { convertLegacyHttpOptions, createOtlpHttpExporterMetrics } from "@opentelemetry/otlp-exporter-base/node-http";
import {
  JsonTraceSerializer,
  ProtobufTraceSerializer,
  TraceExporterMetricsHelper,
  type IExporterMetricsHelper,
  type IExportTraceServiceResponse,
  type ISerializer,
} from "@opentelemetry/otlp-transformer";
import type { ReadableSpan, SpanExporter } from "@opentelemetry/sdk-trace-base";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import type { EncodedSpans } from "./otlp_span_encoder";

/** What an OTLP/HTTP request is given: the settings OTel's own exporter reads from OTEL_EXPORTER_OTLP_*. */
export interface OtlpFetchSettings {
  url: string;
  headers: () => Promise<Record<string, string>>;
  compression: "gzip" | "none";
  userAgent?: string;
  /** A private CA, and a client certificate and key (mutual TLS), as PEM. */
  tls?: { ca?: string; cert?: string; key?: string };
}

const USER_AGENT = "prism-otlp-fetch";
/** A collector's reply is a small status message; a larger one is not read. */
const MAX_RESPONSE_BYTES = 4 * 1024 * 1024;
const RETRYABLE_STATUS = new Set([429, 502, 503, 504]);
/** The network errors OTel's HTTP transport retries (fetch reports the same codes). */
const RETRYABLE_NETWORK = new Set(["ECONNRESET", "ECONNREFUSED", "EPIPE", "ETIMEDOUT", "EAI_AGAIN", "ENOTFOUND", "ENETUNREACH", "EHOSTUNREACH"]);
const MAX_RETRIES = 5;
const INITIAL_BACKOFF_MS = 1000;
const MAX_BACKOFF_MS = 5000;

/** Retry-After (seconds or an HTTP date) in milliseconds, as OTel's HTTP transport reads it. */
export function retryAfterMs(value: string | null): number | undefined {
  if (value === null) return undefined;
  const seconds = Number.parseInt(value, 10);
  if (Number.isInteger(seconds)) return seconds > 0 ? seconds * 1000 : -1;
  const delay = new Date(value).getTime() - Date.now();
  return Math.max(delay || 0, 0); // an unparseable date (NaN) too
}

/**
 * The TLS files OTel's Node exporter reads (OTEL_EXPORTER_OTLP_[TRACES_]CERTIFICATE, _CLIENT_CERTIFICATE,
 * _CLIENT_KEY; paths relative to the working directory), as PEM; undefined when none is set. A file that cannot
 * be read is an error at start, where OTel's exporter only warns and then fails every export.
 */
export function tlsFromEnv(env: Readonly<Record<string, string | undefined>> = process.env): OtlpFetchSettings["tls"] {
  const read = (suffix: string) => {
    const file = env[`OTEL_EXPORTER_OTLP_TRACES_${suffix}`]?.trim() || env[`OTEL_EXPORTER_OTLP_${suffix}`]?.trim();
    if (!file) return undefined;
    try {
      return readFileSync(resolve(process.cwd(), file), "utf8");
    } catch (err) {
      throw new Error(`OTEL_EXPORTER_OTLP_${suffix}: cannot read ${file}: ${(err as Error).message}`);
    }
  };
  const tls = { ca: read("CERTIFICATE"), cert: read("CLIENT_CERTIFICATE"), key: read("CLIENT_KEY") };
  return tls.ca === undefined && tls.cert === undefined && tls.key === undefined ? undefined : tls;
}

/**
 * One OTLP/HTTP POST per export, with the runtime's fetch and its pooled keep-alive connection, where OTel's Node
 * exporter goes through the node:http emulation. Replies are read as OTel's HTTP transport reads them: 2xx is
 * success; 429, 502, 503, 504, a timeout or a network error may be retried; anything else fails the batch.
 */
export class FetchTransport implements IExporterTransport {
  constructor(private readonly settings: OtlpFetchSettings) {}

  async send(data: Uint8Array, timeoutMillis: number): Promise<ExportResponse> {
    const headers: Record<string, string> = {
      ...(await this.settings.headers()),
      "User-Agent": this.settings.userAgent ? `${this.settings.userAgent} ${USER_AGENT}` : USER_AGENT,
    };
    let body = data as Uint8Array<ArrayBuffer>;
    if (this.settings.compression === "gzip") {
      body = Bun.gzipSync(body);
      headers["Content-Encoding"] = "gzip";
    }
    let res: Response;
    try {
      res = await fetch(this.settings.url, { method: "POST", headers, body, signal: AbortSignal.timeout(timeoutMillis), tls: this.settings.tls });
    } catch (err) {
      const e = err as Error & { code?: unknown };
      // A timeout or a refused or reset connection may pass; a certificate the collector's does not match will not.
      const retryable = e.name === "TimeoutError" || (typeof e.code === "string" && RETRYABLE_NETWORK.has(e.code));
      return retryable ? { status: "retryable", error: e } : { status: "failure", error: e };
    }
    const reply = await boundedBody(res);
    // The reply of a success is handed on: OTel's delegate reads a partial success (spans the collector refused) from it.
    if (res.status >= 200 && res.status <= 299) return { status: "success", data: reply };
    if (RETRYABLE_STATUS.has(res.status)) return { status: "retryable", retryInMillis: retryAfterMs(res.headers.get("retry-after")) };
    return { status: "failure", error: new OTLPExporterError(res.statusText, res.status, Buffer.from(reply).toString("utf8")) };
  }

  shutdown(): void {}
}

/** The reply's body, or nothing past MAX_RESPONSE_BYTES (then no more is read) or when it breaks off. */
async function boundedBody(res: Response): Promise<Uint8Array> {
  const none = new Uint8Array(0);
  if (res.body === null) return none;
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    for await (const chunk of res.body) {
      size += chunk.byteLength;
      if (size > MAX_RESPONSE_BYTES) return none; // leaving the loop cancels the stream
      chunks.push(chunk);
    }
  } catch {
    return none;
  }
  return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
}

/**
 * Retries a retryable export up to 5 times, after the collector's Retry-After or a backoff from 1 s growing 1.5×
 * (±20 % jitter, at most 5 s), while the export's time lasts: OTel's own retrying transport, which its package
 * does not export.
 */
export class RetryingTransport implements IExporterTransport {
  constructor(
    private readonly inner: IExporterTransport,
    private readonly sleep: (ms: number) => Promise<void> = (ms) => Bun.sleep(ms),
  ) {}

  async send(data: Uint8Array, timeoutMillis: number): Promise<ExportResponse> {
    const deadline = Date.now() + timeoutMillis;
    let nextBackoff = INITIAL_BACKOFF_MS;
    let result = await this.inner.send(data, timeoutMillis);
    for (let retries = 0; retries < MAX_RETRIES && result.status === "retryable"; retries++) {
      const backoff = Math.max(Math.min(nextBackoff * (1 + (Math.random() * 0.4 - 0.2)), MAX_BACKOFF_MS), 0);
      nextBackoff *= 1.5;
      const wait = Math.max(result.retryInMillis ?? backoff, 0);
      const remaining = deadline - Date.now();
      if (wait > remaining) return result;
      await this.sleep(wait);
      result = await this.inner.send(data, remaining);
    }
    return result;
  }

  shutdown(): void {
    this.inner.shutdown();
  }
}

/**
 * An OTLP/HTTP JSON span exporter configured exactly as OTel's own (OTEL_EXPORTER_OTLP_* headers, timeout,
 * compression and TLS files; its concurrency limit and self-metrics), sending with FetchTransport and retrying as
 * OTel's does. `url` is the full traces URL (otel_env.ts).
 */
export function otlpHttpJsonExporter(url: string): SpanExporter {
  return new OTLPExporterBase<ReadableSpan[]>(fetchExportDelegate(url, "application/json", JsonTraceSerializer));
}

/**
 * The same exporter over OTLP/HTTP protobuf, for batches already encoded (EncodingBatchSpanProcessor), which it
 * sends as they are.
 */
export function otlpHttpEncodedExporter(url: string): OTLPExporterBase<EncodedSpans> {
  const asEncoded: ISerializer<EncodedSpans, IExportTraceServiceResponse> = {
    serializeRequest: (batch) => batch.bytes,
    deserializeResponse: (data) => ProtobufTraceSerializer.deserializeResponse(data),
  };
  return new OTLPExporterBase<EncodedSpans>(fetchExportDelegate(url, "application/x-protobuf", asEncoded));
}

function fetchExportDelegate<Request extends { length: number }>(
  url: string,
  contentType: string,
  serializer: ISerializer<Request, IExportTraceServiceResponse>,
): IOtlpExportDelegate<Request> {
  const options = convertLegacyHttpOptions({ url }, "TRACES", "v1/traces", { "Content-Type": contentType });
  const transport = new RetryingTransport(
    new FetchTransport({
      url: options.url,
      headers: options.headers,
      compression: options.compression === "gzip" ? "gzip" : "none",
      userAgent: options.userAgent,
      tls: tlsFromEnv(),
    }),
  );
  // The helper counts a request's spans by its length, which an encoded batch has too.
  const metrics = createOtlpHttpExporterMetrics(
    "otlp_http_span_exporter",
    TraceExporterMetricsHelper as unknown as IExporterMetricsHelper<Request>,
    options.url,
    undefined,
  );
  return createOtlpNetworkExportDelegate(options, serializer, metrics, transport);
}
