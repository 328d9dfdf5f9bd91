import { afterAll, beforeEach, describe, expect, test } from "bun:test";
import * as grpc from "@grpc/grpc-js";
import { defaultTextMapGetter, ROOT_CONTEXT, trace, type SpanContext } from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  InMemorySpanExporter,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
  type Sampler,
} from "@opentelemetry/sdk-trace-base";
import { KeyValueBasicInterface } from "../../proto/gen/prism/interfaces/keyvalue/keyvalue_basic_pb";
import { createClient } from "../grpc/client";
import { addService } from "../grpc/server";
import { bindServer, serverOptions } from "../grpc/server_factory";
import { Registry } from "prom-client";
import { DriverMetrics, instrumentDriver } from "../drivers/instrument";
import { followsUnsampledParent, isUnsampledTraceparent, remoteParent, Tracing } from "./tracing";
import fc from "fast-check";

// Calls the sampler leaves out: tracing at a ratio must cost them next to nothing, and still keep whatever is
// opened under them (backend calls, a handler's own spans) out of the trace and out of the exporter.

const CALLER_TRACE = "0af7651916cd43dd8448eb211c80319c";
const UNSAMPLED_CALLER = `00-${CALLER_TRACE}-b7ad6b7169203331-00`;
const SAMPLED_CALLER = `00-${CALLER_TRACE}-b7ad6b7169203331-01`;

const exporter = new InMemorySpanExporter();
const servers: grpc.Server[] = [];
afterAll(() => servers.forEach((s) => s.forceShutdown()));
beforeEach(() => exporter.reset());

/** The span active inside the backend's last call. */
let activeInBackend: string | undefined;

/** A backend of one method, instrumented as patterns' drivers are (spans named fake.lookup). */
function fakeBackend(tracing: Tracing) {
  const lookup = async (key: string) => {
    activeInBackend = trace.getActiveSpan()?.spanContext().spanId;
    return key;
  };
  return instrumentDriver({ lookup }, ["lookup"], {
    driver: "fake",
    dbSystem: "fake",
    metrics: new DriverMetrics(new Registry()),
    tracer: tracing.tracer,
  });
}

/** What the handler saw: the active span's context, and whether it records. */
let seen: { context?: SpanContext; recording?: boolean } = {};

/** A server whose Get handler calls an instrumented backend and notes the span it runs under. */
async function serve(sampler: Sampler, parentRequired = false): Promise<{ tracing: Tracing; get: (traceparent?: string) => Promise<void>; close: () => void }> {
  const tracing = new Tracing({ serviceName: "t", serviceVersion: "0", exporter: "none", exporterOverride: exporter, sampler, parentRequired });
  const backend = fakeBackend(tracing);
  const server = new grpc.Server(serverOptions);
  servers.push(server);
  addService(
    server,
    KeyValueBasicInterface,
    {
      get: async ({ key }: { key: string }) => {
        const active = trace.getActiveSpan();
        seen = { context: active?.spanContext(), recording: active?.isRecording() };
        await backend.lookup(key);
        return { found: false };
      },
      set: () => ({ success: true }),
      delete: () => ({ success: true }),
      exists: () => ({ exists: false }),
    },
    [tracing.interceptor()],
  );
  const { client, close } = createClient(KeyValueBasicInterface, `127.0.0.1:${await bindServer(server, "127.0.0.1", 0)}`);
  const get = async (traceparent?: string) => {
    seen = {};
    await client.get({ key: "k" }, traceparent ? { metadata: { traceparent } } : {});
    await tracing.flush();
  };
  return { tracing, get, close };
}

describe("tracing a call the sampler leaves out", () => {
  test("the parent-based samplers (the default) follow a caller's 'not sampled'; others do not", () => {
    expect(followsUnsampledParent(new ParentBasedSampler({ root: new AlwaysOnSampler() }))).toBe(true);
    expect(followsUnsampledParent(new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(0.01) }))).toBe(true);
    expect(followsUnsampledParent(new ParentBasedSampler({ root: new AlwaysOnSampler(), remoteParentNotSampled: new AlwaysOnSampler() }))).toBe(false);
    expect(followsUnsampledParent(new AlwaysOnSampler())).toBe(false);
    expect(followsUnsampledParent(new TraceIdRatioBasedSampler(0.5))).toBe(false);
  });

  test("a caller's traceparent saying 'not sampled': no span is exported, and the handler runs outside any trace", async () => {
    const { get, close } = await serve(new ParentBasedSampler({ root: new AlwaysOnSampler() }));
    try {
      await get(UNSAMPLED_CALLER);
      expect(exporter.getFinishedSpans()).toEqual([]);
      expect(seen).toEqual({ context: undefined, recording: undefined });
    } finally {
      close();
    }
  });

  test("traceparents the fast check leaves to the propagator: a later version still followed, upper-case hex (invalid) a new trace", async () => {
    const { get, close } = await serve(new ParentBasedSampler({ root: new AlwaysOnSampler() }));
    try {
      await get(`01${UNSAMPLED_CALLER.slice(2)}-later`);
      expect(exporter.getFinishedSpans()).toEqual([]);
      expect(seen).toEqual({ context: undefined, recording: undefined });
      await get(UNSAMPLED_CALLER.toUpperCase());
      expect(exporter.getFinishedSpans().map((s) => s.name)).toContain("prism.interfaces.keyvalue.KeyValueBasicInterface/Get");
      expect(seen.recording).toBe(true);
      expect(seen.context?.traceId).not.toBe(CALLER_TRACE);
    } finally {
      close();
    }
  });

  test("a new trace the root sampler leaves out: nothing exported, the handler runs outside any trace", async () => {
    const { get, close } = await serve(new ParentBasedSampler({ root: new AlwaysOffSampler() }));
    try {
      await get();
      expect(exporter.getFinishedSpans()).toEqual([]);
      expect(seen).toEqual({ context: undefined, recording: undefined });
    } finally {
      close();
    }
  });

  test("parentRequired (a pattern behind the proxy): a call without a traceparent starts no trace, even with always_on", async () => {
    const { get, close } = await serve(new ParentBasedSampler({ root: new AlwaysOnSampler() }), true);
    try {
      await get();
      expect(exporter.getFinishedSpans()).toEqual([]);
      expect(seen).toEqual({ context: undefined, recording: undefined });
      // A sampled caller is still traced, and one left out is still left out.
      await get(SAMPLED_CALLER);
      expect(
        exporter
          .getFinishedSpans()
          .map((s) => s.name)
          .sort(),
      ).toEqual(["fake.lookup", "prism.interfaces.keyvalue.KeyValueBasicInterface/Get"]);
      expect(seen.context?.traceId).toBe(CALLER_TRACE);
      exporter.reset();
      await get(UNSAMPLED_CALLER);
      expect(exporter.getFinishedSpans()).toEqual([]);
    } finally {
      close();
    }
  });

  test("a sampler that ignores the parent (always_on) still records a call whose caller was not sampled", async () => {
    const { get, close } = await serve(new AlwaysOnSampler());
    try {
      await get(UNSAMPLED_CALLER);
      const names = exporter.getFinishedSpans().map((s) => s.name);
      expect(names).toContain("prism.interfaces.keyvalue.KeyValueBasicInterface/Get");
      expect(names).toContain("fake.lookup");
    } finally {
      close();
    }
  });

  test("a sampled caller: the server span is its child and the backend call the server span's", async () => {
    const { get, close } = await serve(new ParentBasedSampler({ root: new AlwaysOffSampler() }));
    try {
      await get(SAMPLED_CALLER);
      const spans = exporter.getFinishedSpans();
      const server = spans.find((s) => s.name === "prism.interfaces.keyvalue.KeyValueBasicInterface/Get")!;
      const backend = spans.find((s) => s.name === "fake.lookup")!;
      expect(server.spanContext().traceId).toBe(CALLER_TRACE);
      expect(server.parentSpanContext?.spanId).toBe("b7ad6b7169203331");
      expect(backend.parentSpanContext?.spanId).toBe(server.spanContext().spanId);
      expect(backend.attributes["db.system"]).toBe("fake");
      // The backend call runs in the RPC's context, its own span not entered (nothing under it opens spans).
      expect(activeInBackend).toBe(server.spanContext().spanId);
    } finally {
      close();
    }
  });
});

describe("isUnsampledTraceparent", () => {
  test("takes exactly the version-00 traceparents the W3C propagator reads as not sampled", () => {
    const w3c = new W3CTraceContextPropagator();
    const propagatorSays = (tp: unknown) => {
      const sc = trace.getSpanContext(w3c.extract(ROOT_CONTEXT, { traceparent: tp }, defaultTextMapGetter));
      return sc !== undefined && (sc.traceFlags & 1) === 0;
    };
    const unsampled = [UNSAMPLED_CALLER, `00-${CALLER_TRACE}-b7ad6b7169203331-02`, `00-${CALLER_TRACE}-b7ad6b7169203331-fe`];
    const not = [
      undefined,
      42,
      SAMPLED_CALLER,
      `00-${CALLER_TRACE}-b7ad6b7169203331-03`,
      `00-${"0".repeat(32)}-b7ad6b7169203331-00`,
      `00-${CALLER_TRACE}-${"0".repeat(16)}-00`,
      UNSAMPLED_CALLER.toUpperCase(),
      `${UNSAMPLED_CALLER}-extra`,
      `ff-${CALLER_TRACE}-b7ad6b7169203331-00`,
      `00-${CALLER_TRACE}-b7ad6b7169203331-0g`,
      `00_${CALLER_TRACE}-b7ad6b7169203331-00`,
    ];
    for (const tp of unsampled) expect([tp, isUnsampledTraceparent(tp), propagatorSays(tp)]).toEqual([tp, true, true]);
    for (const tp of not) expect([tp, isUnsampledTraceparent(tp)]).toEqual([tp, false]);
    // Those the propagator reads as not sampled in a form the check leaves to it: later versions.
    expect(propagatorSays(`01-${CALLER_TRACE}-b7ad6b7169203331-00-later`)).toBe(true);
    expect(isUnsampledTraceparent(`01-${CALLER_TRACE}-b7ad6b7169203331-00-later`)).toBe(false);
  });
});

describe("remoteParent", () => {
  const w3c = new W3CTraceContextPropagator();
  const propagated = (traceparent: unknown) => trace.getSpanContext(w3c.extract(ROOT_CONTEXT, { traceparent }, defaultTextMapGetter));
  const hex = (n: number) => fc.stringMatching(new RegExp(`^[0-9a-f]{${n}}$`));

  test("the span context the W3C propagator extracts, for any version-00 traceparent; undefined for the rest", () => {
    const fixed = [SAMPLED_CALLER, UNSAMPLED_CALLER, `00-${"0".repeat(32)}-b7ad6b7169203331-01`, `00-${CALLER_TRACE}-${"0".repeat(16)}-01`];
    const generated = fc.oneof(
      fc.tuple(hex(32), hex(16), hex(2)).map(([t, s, f]) => `00-${t}-${s}-${f}`),
      fc.constantFrom(...fixed),
      fc.constantFrom(` ${SAMPLED_CALLER}`, `${SAMPLED_CALLER}-extra`, `01-${CALLER_TRACE}-b7ad6b7169203331-01`, SAMPLED_CALLER.toUpperCase()),
      fc.string({ maxLength: 60 }),
    );
    fc.assert(
      fc.property(generated, (tp) => {
        const ours = remoteParent(tp, undefined);
        // Ours or, where it leaves the traceparent to the propagator, anything.
        if (ours !== undefined) expect(trace.getSpanContext(ours)).toEqual(propagated(tp)!);
        // A well-formed version-00 traceparent is always ours.
        if (propagated(tp) !== undefined && tp.length === 55 && tp.startsWith("00-")) expect(ours).toBeDefined();
      }),
      { numRuns: 2000 },
    );
  });

  test("with a tracestate, or not a string: left to the propagator", () => {
    expect(remoteParent(SAMPLED_CALLER, "vendor=x")).toBeUndefined();
    expect(remoteParent(SAMPLED_CALLER, "")).toBeUndefined();
    expect(remoteParent([SAMPLED_CALLER], undefined)).toBeUndefined();
    expect(remoteParent(undefined, undefined)).toBeUndefined();
  });
});

describe("backend call spans", () => {
  test("are children of a recording span only: none outside an RPC, none under one left out", async () => {
    const tracing = new Tracing({ serviceName: "t", serviceVersion: "0", exporter: "none", exporterOverride: exporter, sampler: new AlwaysOnSampler() });
    const backend = fakeBackend(tracing);
    await backend.lookup("background");
    const off = new Tracing({ serviceName: "t", serviceVersion: "0", exporter: "none", exporterOverride: exporter, sampler: new AlwaysOffSampler() });
    await off.tracer.startActiveSpan("left out", async (span) => {
      await backend.lookup("under a span left out");
      span.end();
    });
    await tracing.flush();
    expect(exporter.getFinishedSpans()).toEqual([]);
    await tracing.tracer.startActiveSpan("rpc", async (span) => {
      expect(await backend.lookup("x")).toBe("x");
      span.end();
    });
    await tracing.flush();
    const spans = exporter.getFinishedSpans();
    expect(spans.map((s) => s.name).sort()).toEqual(["fake.lookup", "rpc"]);
    expect(spans.find((s) => s.name === "fake.lookup")!.parentSpanContext?.spanId).toBe(spans.find((s) => s.name === "rpc")!.spanContext().spanId);
  });
});
