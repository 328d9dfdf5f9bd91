import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { gunzipSync } from "node:zlib";
import type { ExportResponse, IExporterTransport } from "@opentelemetry/otlp-exporter-base";
import { makePki, type Pki } from "../../tests/security/pki";
import { FetchTransport, RetryingTransport, retryAfterMs, tlsFromEnv } from "./otlp_fetch";
import { Tracing } from "./tracing";

interface Seen {
  method: string;
  path: string;
  headers: Headers;
  body: Uint8Array;
}

/** A collector stand-in whose replies a test sets per path: /status/<code>[?retry-after=...], /slow, /partial, anything else 200. */
function standIn(tls?: Bun.TLSOptions) {
  const seen: Seen[] = [];
  const server = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    tls,
    async fetch(req) {
      const url = new URL(req.url);
      seen.push({ method: req.method, path: url.pathname, headers: req.headers, body: new Uint8Array(await req.arrayBuffer()) });
      if (url.pathname === "/slow") await Bun.sleep(2000);
      if (url.pathname === "/partial") return new Response(new Uint8Array([10, 2, 8, 3]));
      const status = /^\/status\/(\d+)$/.exec(url.pathname)?.[1];
      if (status === undefined) return new Response(new Uint8Array(0));
      const retryAfter = url.searchParams.get("retry-after");
      return new Response(`refused with ${status}`, { status: Number(status), headers: retryAfter ? { "retry-after": retryAfter } : {} });
    },
  });
  return { seen, server, url: (path: string) => `${tls ? "https" : "http"}://127.0.0.1:${server.port}${path}` };
}

const transport = (url: string, extra: Partial<ConstructorParameters<typeof FetchTransport>[0]> = {}) =>
  new FetchTransport({ url, headers: async () => ({ "Content-Type": "application/x-protobuf", "x-tenant": "t1" }), compression: "none", ...extra });

const DATA = new Uint8Array([10, 3, 1, 2, 3, 0, 255]);

describe("FetchTransport", () => {
  const c = standIn();
  afterAll(() => c.server.stop(true));

  test("POSTs the bytes with the configured headers and a User-Agent; 2xx is success", async () => {
    const r = await transport(c.url("/v1/traces"), { userAgent: "my-app/2" }).send(DATA, 5000);
    expect(r.status).toBe("success");
    const got = c.seen.at(-1)!;
    expect(got).toMatchObject({ method: "POST", path: "/v1/traces" });
    expect([...got.body]).toEqual([...DATA]);
    expect(got.headers.get("content-type")).toBe("application/x-protobuf");
    expect(got.headers.get("x-tenant")).toBe("t1");
    expect(got.headers.get("user-agent")).toBe("my-app/2 prism-otlp-fetch");
    expect(got.headers.get("content-encoding")).toBeNull();
  });

  test("a success hands on the collector's reply (OTel's delegate reads a partial success from it)", async () => {
    const r = (await transport(c.url("/partial")).send(DATA, 5000)) as Extract<ExportResponse, { status: "success" }>;
    expect(r.status).toBe("success");
    expect([...(r.data ?? [])]).toEqual([10, 2, 8, 3]);
  });

  test("gzip compression: the body is the gzipped bytes, with Content-Encoding", async () => {
    expect((await transport(c.url("/gz"), { compression: "gzip" }).send(DATA, 5000)).status).toBe("success");
    const got = c.seen.at(-1)!;
    expect(got.headers.get("content-encoding")).toBe("gzip");
    expect([...gunzipSync(got.body)]).toEqual([...DATA]);
  });

  test("429, 502, 503, 504 may be retried, after Retry-After when the collector gives one", async () => {
    for (const code of [429, 502, 503, 504]) {
      expect(await transport(c.url(`/status/${code}`)).send(DATA, 5000)).toEqual({ status: "retryable", retryInMillis: undefined });
    }
    expect(await transport(c.url("/status/503?retry-after=3")).send(DATA, 5000)).toEqual({ status: "retryable", retryInMillis: 3000 });
  });

  test("any other status fails the batch with the status and the collector's message", async () => {
    for (const code of [400, 401, 404, 500]) {
      const r = (await transport(c.url(`/status/${code}`)).send(DATA, 5000)) as Extract<ExportResponse, { status: "failure" }>;
      expect(r.status).toBe("failure");
      expect(r.error).toMatchObject({ code, data: `refused with ${code}` });
    }
  });

  test("a refused connection and a reply later than the timeout may be retried", async () => {
    expect((await transport("http://127.0.0.1:1/v1/traces").send(DATA, 2000)).status).toBe("retryable");
    const started = performance.now();
    const r = await transport(c.url("/slow")).send(DATA, 100);
    expect(r.status).toBe("retryable");
    expect(performance.now() - started).toBeLessThan(1500);
  });
});

describe("FetchTransport over TLS", () => {
  let pki: Pki;
  let c: ReturnType<typeof standIn>;
  beforeAll(() => {
    pki = makePki();
    pki.issue("server", "localhost");
    pki.issue("client", "client", { client: true });
    const read = (f: string) => Bun.file(pki.path(f));
    c = standIn({ cert: read("server.crt"), key: read("server.key"), ca: read("ca.crt"), requestCert: true, rejectUnauthorized: true });
  });
  afterAll(() => {
    c.server.stop(true);
    pki.cleanup();
  });

  test("OTEL_EXPORTER_OTLP_CERTIFICATE, _CLIENT_CERTIFICATE, _CLIENT_KEY: mutual TLS with a private CA", async () => {
    const tls = tlsFromEnv({
      OTEL_EXPORTER_OTLP_CERTIFICATE: pki.path("ca.crt"),
      OTEL_EXPORTER_OTLP_TRACES_CLIENT_CERTIFICATE: pki.path("client.crt"),
      OTEL_EXPORTER_OTLP_CLIENT_KEY: pki.path("client.key"),
    });
    expect(tls?.ca).toContain("BEGIN CERTIFICATE");
    expect((await transport(c.url("/v1/traces"), { tls }).send(DATA, 5000)).status).toBe("success");
  });

  test("a server certificate from an unknown CA fails at once (no retry can fix it)", async () => {
    const r = await transport(c.url("/v1/traces")).send(DATA, 5000);
    expect(r.status).toBe("failure");
  });

  test("no TLS variable: undefined; a file that cannot be read is named in the error", () => {
    expect(tlsFromEnv({})).toBeUndefined();
    expect(() => tlsFromEnv({ OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE: "/nonexistent/ca.crt" })).toThrow(
      "OTEL_EXPORTER_OTLP_CERTIFICATE: cannot read /nonexistent/ca.crt",
    );
  });
});

/** A transport answering from a script, and the waits a RetryingTransport asks for. */
function scripted(replies: ExportResponse[]) {
  const sends: number[] = [];
  const waits: number[] = [];
  const inner: IExporterTransport = {
    send: async (_data, timeout) => {
      sends.push(timeout);
      return replies.shift() ?? { status: "success" };
    },
    shutdown: () => {},
  };
  const retrying = new RetryingTransport(inner, async (ms) => {
    waits.push(ms);
  });
  return { retrying, sends, waits };
}

describe("RetryingTransport", () => {
  const retryable = (retryInMillis?: number): ExportResponse => ({ status: "retryable", retryInMillis });

  test("retries a retryable export after a growing, jittered backoff until it succeeds", async () => {
    const s = scripted([retryable(), retryable(), retryable()]);
    expect((await s.retrying.send(DATA, 60_000)).status).toBe("success");
    expect(s.sends.length).toBe(4);
    const [a, b, c] = s.waits as [number, number, number];
    expect(a).toBeGreaterThanOrEqual(800);
    expect(a).toBeLessThanOrEqual(1200);
    expect(b).toBeGreaterThanOrEqual(1200);
    expect(b).toBeLessThanOrEqual(1800);
    expect(c).toBeGreaterThanOrEqual(1800);
    expect(c).toBeLessThanOrEqual(2700);
  });

  test("waits what the collector's Retry-After says", async () => {
    const s = scripted([retryable(2500)]);
    expect((await s.retrying.send(DATA, 60_000)).status).toBe("success");
    expect(s.waits).toEqual([2500]);
  });

  test("gives up after 5 retries, or when the next wait would pass the export's time", async () => {
    const many = scripted(Array.from({ length: 10 }, () => retryable(10)));
    expect((await many.retrying.send(DATA, 60_000)).status).toBe("retryable");
    expect(many.sends.length).toBe(6);
    const late = scripted([retryable(5000)]);
    expect((await late.retrying.send(DATA, 1000)).status).toBe("retryable");
    expect(late.sends.length).toBe(1);
  });

  test("a failure is not retried", async () => {
    const s = scripted([{ status: "failure", error: new Error("bad request") }]);
    expect((await s.retrying.send(DATA, 60_000)).status).toBe("failure");
    expect(s.sends.length).toBe(1);
  });

  test("Retry-After in seconds or as an HTTP date", () => {
    expect(retryAfterMs(null)).toBeUndefined();
    expect(retryAfterMs("7")).toBe(7000);
    expect(retryAfterMs("0")).toBe(-1);
    const inFive = new Date(Date.now() + 5000).toUTCString();
    expect(retryAfterMs(inFive)).toBeGreaterThan(3000);
    expect(retryAfterMs("Thu, 01 Jan 1970 00:00:00 GMT")).toBe(0);
  });
});

describe("the OTLP/HTTP exporter Tracing builds", () => {
  const c = standIn();
  afterAll(() => c.server.stop(true));

  test("reads OTEL_EXPORTER_OTLP_HEADERS and OTEL_EXPORTER_OTLP_COMPRESSION, as OTel's exporter does", async () => {
    const saved = { h: process.env.OTEL_EXPORTER_OTLP_HEADERS, z: process.env.OTEL_EXPORTER_OTLP_COMPRESSION };
    process.env.OTEL_EXPORTER_OTLP_HEADERS = "authorization=Bearer abc,x-team=prism";
    process.env.OTEL_EXPORTER_OTLP_COMPRESSION = "gzip";
    try {
      const t = new Tracing({
        serviceName: "fetch-export",
        serviceVersion: "1",
        exporter: "otlp",
        env: { OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: c.url("/v1/traces") },
      });
      t.tracer.startSpan("span-over-fetch").end();
      await t.shutdown();
    } finally {
      for (const [k, v] of [
        ["OTEL_EXPORTER_OTLP_HEADERS", saved.h],
        ["OTEL_EXPORTER_OTLP_COMPRESSION", saved.z],
      ] as const) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
    const got = c.seen.find((s) => s.path === "/v1/traces")!;
    expect(got.headers.get("authorization")).toBe("Bearer abc");
    expect(got.headers.get("x-team")).toBe("prism");
    expect(got.headers.get("content-type")).toBe("application/x-protobuf");
    expect(got.headers.get("content-encoding")).toBe("gzip");
    expect(Buffer.from(gunzipSync(got.body)).includes("span-over-fetch")).toBe(true);
  });
});
