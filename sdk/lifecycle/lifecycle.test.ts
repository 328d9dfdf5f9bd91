import { afterAll, describe, expect, test } from "bun:test";
import { fstatSync, mkdtempSync, openSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { Registry } from "prom-client";
import { HealthStatus } from "../../proto/gen/prism/interfaces/lifecycle_pb";
import { ProxyControlPlane, type PatternMessage } from "../../proto/gen/prism/interfaces/proxy_control_plane_pb";
import type { DescMethod, MessageInitShape } from "@bufbuild/protobuf";
import type { ProxyCommandSchema } from "../../proto/gen/prism/interfaces/proxy_control_plane_pb";
import type { Driver, HealthReport, KeyValueBasicDriver } from "../drivers/interfaces";
import { DriverMetrics } from "../drivers/instrument";
import { Code, PrismError } from "../errors";
import type { ServerCall } from "../grpc/interceptor";
import { addService } from "../grpc/server";
import { bindServer, serverOptions } from "../grpc/server_factory";
import { createLogger } from "../observability/logger";
import { keyValueBasic } from "../services/keyvalue_basic";
import { runControlPlane, takeLaunchToken } from "./control_plane_client";
import type { PatternDefinition } from "./pattern";
import { PatternRuntime } from "./runtime";
import { waitFor } from "../../tests/helpers/wait";

class SlowDriver implements Driver, KeyValueBasicDriver {
  readonly name = "slow";
  readonly version = "1.0.0";
  closed = false;
  constructor(readonly config: Record<string, unknown>) {}
  async set(_key: string, _value: Uint8Array, _ttl: number) {
    await new Promise((r) => setTimeout(r, 100));
  }
  get = () => undefined;
  delete = () => false;
  exists = () => true;
  health(): HealthReport {
    return { status: "degraded", message: "half full", details: { keys: "3" } };
  }
  async close() {
    this.closed = true;
  }
}

const def: PatternDefinition<SlowDriver> = {
  name: "slow",
  version: "1.0.0",
  bindings: [keyValueBasic],
  create: (config) => {
    if (config.fail) throw new Error("bad backend config");
    return new SlowDriver(config);
  },
};

const quiet = createLogger({ level: "error", write: () => {} });
const newRuntime = () => {
  const registry = new Registry();
  return new PatternRuntime(def, { logger: quiet, driverMetrics: new DriverMetrics(registry), registry, configFile: "test" });
};

const unaryCall = (method: DescMethod = keyValueBasic.service.method.set): ServerCall => ({
  method,
  ctx: { path: "/x", metadata: new grpc.Metadata(), signal: new AbortController().signal, deadline: Infinity, namespace: "default" },
  request: {},
});

describe("pattern runtime", () => {
  test("data calls are UNAVAILABLE until initialized and started", async () => {
    const rt = newRuntime();
    const gated = rt.gate()(async () => "ok");
    expect(() => gated(unaryCall())).toThrow(PrismError);
    try {
      gated(unaryCall());
    } catch (e) {
      expect((e as PrismError).code).toBe(Code.UNAVAILABLE);
    }
    await rt.initialize({ some: "option", max_key_size: "1KiB", namespace: "orders" });
    expect(rt.limits.maxKeyBytes).toBe(1024);
    expect(rt.namespace).toBe("orders");
    expect((rt.slot.current as unknown as SlowDriver).config).toEqual({ some: "option" });
    expect(() => gated(unaryCall())).toThrow("initialized");
    rt.start();
    expect(await gated(unaryCall())).toBe("ok");
  });

  test("a second Initialize keeps the driver, but refuses another namespace or other settings; lifecycle settings never reach the driver", async () => {
    const rt = newRuntime();
    await rt.initialize({ namespace: "orders", lifecycle: { shutdown_timeout: "5s" }, a: 1 });
    const first = rt.slot.current;
    expect((first as unknown as SlowDriver).config).toEqual({ a: 1 });
    await rt.initialize({ namespace: "orders", a: 1 });
    await rt.initialize({});
    // Settings it does not run with would be ignored: refused, naming them (issue 18 item 15).
    await expect(rt.initialize({ namespace: "orders", a: 2, b: true })).rejects.toThrow('differs at "a", "b"');
    expect(rt.slot.current).toBe(first);
    await expect(rt.initialize({ namespace: "billing" })).rejects.toThrow('already serves namespace "orders", not "billing"');
    expect(rt.patternMetadata().extra).toEqual({ namespace: "orders" });
  });

  test("metadata declares every bound interface", () => {
    const md = newRuntime().patternMetadata();
    expect(md.name).toBe("slow");
    expect(md.interfaces.map((i) => i.name)).toEqual(["prism.interfaces.keyvalue.KeyValueBasicInterface"]);
    expect(md.interfaces[0]!.protoFile).toBe("prism/interfaces/keyvalue/keyvalue_basic.proto");
    expect(md.interfaces[0]!.protoHash).toMatch(/^[0-9a-f]{64}$/);
    expect(md.interfaces[0]!.metadata.interface).toBe("keyvalue_basic");
  });

  test("drain waits for calls in flight and refuses new ones; stop closes the driver", async () => {
    const rt = newRuntime();
    await rt.initialize({});
    rt.start();
    const gated = rt.gate()(() => (rt.slot.current.set("k", new Uint8Array(), 0) as Promise<void>).then(() => "done"));
    const inflight = [gated(unaryCall()), gated(unaryCall())];
    const drained = await rt.drain(5000);
    expect(drained).toEqual({ drained: 2, aborted: 0, unfinished: 0 });
    expect(await Promise.all(inflight)).toEqual(["done", "done"]);
    expect(() => gated(unaryCall())).toThrow("draining");
    const driver = rt.slot.current as unknown as SlowDriver;
    await rt.stop();
    expect(driver.closed).toBe(true);
    expect((await rt.health()).status).toBe(HealthStatus.UNHEALTHY);
  });

  test("drain ends open streams with UNAVAILABLE (reconnect)", async () => {
    const rt = newRuntime();
    await rt.initialize({});
    rt.start();
    const stream = rt.gate()((call) =>
      (async function* () {
        while (!call.ctx.signal.aborted) {
          yield 1;
          await new Promise((r) => setTimeout(r, 5));
        }
      })(),
    )({
      ...unaryCall(keyValueBasic.service.method.get),
      method: { ...keyValueBasic.service.method.get, methodKind: "server_streaming" } as never,
    }) as AsyncIterable<number>;
    let n = 0;
    const consumed = (async () => {
      for await (const _ of stream) n++;
    })().catch((e) => e as PrismError);
    await waitFor(() => n > 0, "the stream yields", { timeoutMs: 2_000, intervalMs: 5 });
    const { aborted } = await rt.drain(100);
    const ended = await consumed;
    expect(aborted).toBe(1);
    expect(n).toBeGreaterThan(0);
    expect(ended).toBeInstanceOf(PrismError);
    expect((ended as PrismError).code).toBe(Code.UNAVAILABLE);
    expect((ended as PrismError).message).toContain("shutting down");
  });

  test("health maps the driver's report", async () => {
    const rt = newRuntime();
    expect((await rt.health()).status).toBe(HealthStatus.UNHEALTHY);
    await rt.initialize({});
    rt.start();
    const h = await rt.health();
    expect(h.status).toBe(HealthStatus.DEGRADED);
    expect(h.message).toBe("half full");
    expect(h.details).toEqual({ keys: "3", state: "serving" });
  });
});

describe("control plane client", () => {
  const servers: grpc.Server[] = [];
  afterAll(() => servers.forEach((s) => s.forceShutdown()));

  test("registers, answers Initialize/Start/HealthCheck, and shuts down when the proxy goes away", async () => {
    const received: PatternMessage[] = [];
    let endStream!: () => void;
    const server = new grpc.Server(serverOptions);
    servers.push(server);
    addService(server, ProxyControlPlane, {
      async *managePattern(messages) {
        type Cmd = MessageInitShape<typeof ProxyCommandSchema>;
        const it = messages[Symbol.asyncIterator]();
        const next = async () => {
          const r = await it.next();
          received.push(r.value as PatternMessage);
          return r.value as PatternMessage;
        };
        const reg = await next();
        expect(reg.message.case).toBe("register");
        yield { correlationId: "r", command: { case: "registerAck", value: { success: true, instanceId: "i-1" } } } as Cmd;
        yield { correlationId: "1", command: { case: "initialize", value: { name: "slow", version: "1", config: { a: 1 } } } } as Cmd;
        await next();
        yield { correlationId: "2", command: { case: "start", value: {} } } as Cmd;
        await next();
        yield { correlationId: "3", command: { case: "healthCheck", value: {} } } as Cmd;
        await next();
        await new Promise<void>((r) => (endStream = r));
      },
    });
    const port = await bindServer(server, "127.0.0.1", 0);
    const rt = newRuntime();
    rt.dataEndpoint = "127.0.0.1:12345";
    const reasons: string[] = [];
    const done = runControlPlane(`127.0.0.1:${port}`, rt, quiet, (r) => reasons.push(r));
    const until = Date.now() + 5000;
    while (received.length < 4 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    const [reg, init, start, health] = received as [PatternMessage, PatternMessage, PatternMessage, PatternMessage];
    expect(reg.message.case === "register" && reg.message.value.processId).toBe(process.pid);
    expect(init.correlationId).toBe("1");
    expect(init.message.case === "initializeResponse" && init.message.value.success).toBe(true);
    expect((rt.slot.current as unknown as SlowDriver).config).toEqual({ a: 1 });
    expect(start.message.case === "startResponse" && start.message.value.dataEndpoint).toBe("127.0.0.1:12345");
    expect(health.message.case === "healthResponse" && health.message.value.status).toBe(HealthStatus.DEGRADED);
    // The proxy dies: the pattern must notice and shut itself down.
    server.forceShutdown();
    endStream?.();
    await done;
    expect(reasons).toContain("control stream lost");
  });
});

describe("the launch secret", () => {
  test("is read from the inherited descriptor to its end, which is then closed, and leaves no trace in the environment", () => {
    const dir = mkdtempSync(join(tmpdir(), "launch-token-"));
    try {
      writeFileSync(join(dir, "t"), "the-secret");
      const fd = openSync(join(dir, "t"), "r");
      const env: Record<string, string | undefined> = { PRISM_LAUNCH_TOKEN_FD: String(fd), OTHER: "kept" };
      expect(takeLaunchToken(env)).toBe("the-secret");
      expect(env).toEqual({ OTHER: "kept" });
      expect(() => fstatSync(fd)).toThrow();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("a descriptor that is not open gives no secret (the registration is then refused) rather than a crash", () => {
    const env: Record<string, string | undefined> = { PRISM_LAUNCH_TOKEN_FD: "987654" };
    expect(takeLaunchToken(env)).toBeUndefined();
    expect(env).toEqual({});
  });
});
