import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { context, propagation, ROOT_CONTEXT } from "@opentelemetry/api";
import { InMemorySpanExporter } from "@opentelemetry/sdk-trace-base";
import { OtlpCollector } from "../../tests/helpers/otlp_collector";
import { otlpTarget, samplerFromEnv } from "./otel_env";
import { Tracing } from "./tracing";

describe("OTLP target from the standard environment", () => {
  test("defaults: http/protobuf to localhost:4318/v1/traces; grpc to localhost:4317", () => {
    expect(otlpTarget({})).toEqual({ protocol: "http/protobuf", url: "http://localhost:4318/v1/traces" });
    expect(otlpTarget({ OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" })).toEqual({ protocol: "grpc", url: "http://localhost:4317" });
  });

  test("OTEL_EXPORTER_OTLP_ENDPOINT is a base (HTTP appends /v1/traces); the traces-specific variables win", () => {
    expect(otlpTarget({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://otel-collector:4318/" }).url).toBe("http://otel-collector:4318/v1/traces");
    expect(otlpTarget({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://otel-collector:4317", OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" }).url).toBe(
      "http://otel-collector:4317",
    );
    expect(otlpTarget({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://a:4318", OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "http://b:9999/custom" }).url).toBe(
      "http://b:9999/custom",
    );
    expect(otlpTarget({ OTEL_EXPORTER_OTLP_PROTOCOL: "grpc", OTEL_EXPORTER_OTLP_TRACES_PROTOCOL: "http/json" }).protocol).toBe("http/json");
  });

  test("an unknown protocol is refused with the variable's name", () => {
    expect(() => otlpTarget({ OTEL_EXPORTER_OTLP_PROTOCOL: "carrier-pigeon" })).toThrow("OTEL_EXPORTER_OTLP_PROTOCOL");
  });
});

describe("OTEL_TRACES_SAMPLER", () => {
  /** Which of a new root span and a child of a sampled / unsampled remote parent are kept. */
  async function kept(env: Record<string, string>) {
    const exporter = new InMemorySpanExporter();
    const t = new Tracing({ serviceName: "s", serviceVersion: "0", exporter: "none", exporterOverride: exporter, env });
    const remote = (flags: string) => propagation.extract(ROOT_CONTEXT, { traceparent: `00-${"ab".repeat(16)}-${"cd".repeat(8)}-${flags}` });
    t.tracer.startSpan("root").end();
    t.tracer.startSpan("child-of-sampled", undefined, remote("01")).end();
    t.tracer.startSpan("child-of-unsampled", undefined, remote("00")).end();
    await t.flush(); // not shutdown: the in-memory exporter forgets its spans when shut down
    return exporter
      .getFinishedSpans()
      .map((s) => s.name)
      .sort();
  }

  test("default parentbased_always_on keeps new traces and follows the caller's decision", async () => {
    expect(await kept({})).toEqual(["child-of-sampled", "root"]);
  });

  test("parentbased_traceidratio: the ratio applies to new traces only", async () => {
    expect(await kept({ OTEL_TRACES_SAMPLER: "parentbased_traceidratio", OTEL_TRACES_SAMPLER_ARG: "0" })).toEqual(["child-of-sampled"]);
    expect(await kept({ OTEL_TRACES_SAMPLER: "parentbased_traceidratio", OTEL_TRACES_SAMPLER_ARG: "1" })).toEqual(["child-of-sampled", "root"]);
  });

  test("a ratio keeps about that share of new traces", () => {
    const sampler = samplerFromEnv({ OTEL_TRACES_SAMPLER: "parentbased_traceidratio", OTEL_TRACES_SAMPLER_ARG: "0.25" });
    let sampled = 0;
    const n = 4000;
    for (let i = 0; i < n; i++) {
      const traceId = crypto.getRandomValues(new Uint8Array(16)).reduce((s, b) => s + b.toString(16).padStart(2, "0"), "");
      if (sampler.shouldSample(context.active(), traceId, "x", 0, {}, []).decision !== 0) sampled++;
    }
    // Generous bounds: 25 % of 4000 is 1000, its standard deviation ~27.
    expect(sampled).toBeGreaterThan(800);
    expect(sampled).toBeLessThan(1200);
  });

  test("always_off and always_on ignore the parent; bad names and ratios are refused", async () => {
    expect(await kept({ OTEL_TRACES_SAMPLER: "always_off" })).toEqual([]);
    expect(await kept({ OTEL_TRACES_SAMPLER: "always_on" })).toEqual(["child-of-sampled", "child-of-unsampled", "root"]);
    expect(() => samplerFromEnv({ OTEL_TRACES_SAMPLER: "sometimes" })).toThrow("OTEL_TRACES_SAMPLER");
    expect(() => samplerFromEnv({ OTEL_TRACES_SAMPLER: "traceidratio", OTEL_TRACES_SAMPLER_ARG: "2" })).toThrow("OTEL_TRACES_SAMPLER_ARG");
  });
});

describe("export to a collector stand-in", () => {
  const collector = new OtlpCollector();
  beforeAll(() => collector.start());
  afterAll(() => collector.stop());

  async function exportOne(spanName: string, env: Record<string, string>) {
    const t = new Tracing({ serviceName: `svc-${spanName}`, serviceVersion: "1", exporter: "otlp", env });
    t.tracer.startSpan(spanName).end();
    await t.shutdown();
    return collector.containing(spanName);
  }

  test("http/protobuf (the default) posts protobuf to <OTEL_EXPORTER_OTLP_ENDPOINT>/v1/traces", async () => {
    const got = await exportOne("span-proto", { OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${collector.httpPort}` });
    expect(got.length).toBe(1);
    expect(got[0]).toMatchObject({ transport: "http", path: "/v1/traces", contentType: "application/x-protobuf" });
    expect(collector.containing("svc-span-proto").length).toBe(1);
  });

  test("grpc calls TraceService/Export at OTEL_EXPORTER_OTLP_ENDPOINT", async () => {
    const got = await exportOne("span-grpc", {
      OTEL_EXPORTER_OTLP_PROTOCOL: "grpc",
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${collector.grpcPort}`,
    });
    expect(got.length).toBe(1);
    expect(got[0]).toMatchObject({ transport: "grpc", path: "/opentelemetry.proto.collector.trace.v1.TraceService/Export" });
  });

  test("http/json posts JSON", async () => {
    const got = await exportOne("span-json", {
      OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: `http://127.0.0.1:${collector.httpPort}/custom/traces`,
    });
    expect(got.length).toBe(1);
    expect(got[0]).toMatchObject({ transport: "http", path: "/custom/traces", contentType: "application/json" });
  });
});
