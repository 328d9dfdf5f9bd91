import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { create } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Health } from "../../proto/gen/grpc/health/v1/health_pb";
import { KeyValueBasicInterface } from "../../proto/gen/prism/interfaces/keyvalue/keyvalue_basic_pb";
import { PatternMetadataSchema } from "../../proto/gen/prism/interfaces/lifecycle_pb";
import { createClient } from "../../sdk/grpc/client";
import { Code, PrismError } from "../../sdk/grpc/errors";
import { HealthService, Serving } from "../../sdk/grpc/health";
import { addService } from "../../sdk/grpc/server";
import { bindServer, serverOptions } from "../../sdk/grpc/server_factory";
import { createLogger } from "../../sdk/observability/logger";
import { makeJwtIssuer } from "../../tests/security/pki";
import { H2Listener } from "../h2/listener";
import { Upstream } from "../h2/upstream";
import { ProxyMetrics } from "../metrics";
import { PatternInstance, PatternRegistry } from "../pattern_registry";
import { Router } from "../router";
import { AuditLog, type AuditEvent } from "./audit";
import { Authenticator, hashApiKey } from "./authn";
import { Authorizer } from "./authz";
import { SecurityGate } from "./gate";
import { isLoopback, readServerTls } from "./tls";

async function codeOf(call: () => Promise<unknown>): Promise<[number, string]> {
  try {
    await call();
    return [Code.OK, ""];
  } catch (err) {
    const e = PrismError.from(err);
    return [e.code, e.message];
  }
}

/** Router + gate in process against a grpc-js backend: the same path the proxy takes, measured by coverage. */
describe("security gate in the router", () => {
  const dir = mkdtempSync(join(tmpdir(), "prism-gate-"));
  const metrics = new ProxyMetrics("test");
  const registry = new PatternRegistry();
  const audit: AuditEvent[] = [];
  const seen: grpc.Metadata[] = [];
  let backend: grpc.Server;
  let localServer: grpc.Server;
  const health = new HealthService(Serving.SERVING);
  let listener: H2Listener;
  let authn: Authenticator;
  let address: string;
  let issuer: Awaited<ReturnType<typeof makeJwtIssuer>>;
  const handles: { close(): void }[] = [];

  beforeAll(async () => {
    issuer = await makeJwtIssuer(join(dir, "jwks.json"));
    writeFileSync(join(dir, "keys"), `writer: sha256:${hashApiKey("writer-key-123456")}\n`);
    backend = new grpc.Server(serverOptions);
    addService(backend, KeyValueBasicInterface, {
      get: (req, ctx) => {
        seen.push(ctx.metadata);
        return { found: true, value: new TextEncoder().encode(req.key) };
      },
      set: () => ({ success: true }),
      delete: () => ({ success: true }),
      exists: () => ({ exists: true }),
    });
    const port = await bindServer(backend, "127.0.0.1", 0);
    for (const ns of ["a", "b"]) {
      const inst = new PatternInstance(ns, "memstore", "launched", metrics.namespace(ns, "memstore"));
      inst.serve(
        new Upstream(`127.0.0.1:${port}`),
        `127.0.0.1:${port}`,
        create(PatternMetadataSchema, { name: "memstore", interfaces: [{ name: KeyValueBasicInterface.typeName }] }),
      );
      registry.add(inst);
    }
    localServer = new grpc.Server(serverOptions);
    health.addTo(localServer);
    const localPort = await bindServer(localServer, "127.0.0.1", 0);
    authn = new Authenticator(
      {
        apiKeysFile: join(dir, "keys"),
        jwt: { jwksFile: join(dir, "jwks.json"), issuer: "https://issuer.test", audience: ["prism"], algorithms: ["ES256"], clockSkewS: 5 },
        clientCertificates: false,
      },
      createLogger({ write: () => undefined }),
    );
    const authz = new Authorizer([
      { principals: ["sub:alice"], namespaces: ["a"], allow: ["read"] },
      { principals: ["key:writer"], namespaces: ["b*"], allow: ["write"] },
    ]);
    const gate = new SecurityGate(authn, authz, new AuditLog({ allowedWrites: true }, (l) => audit.push(JSON.parse(l))), metrics);
    const router = new Router(registry, new Upstream(`127.0.0.1:${localPort}`), metrics, undefined, gate);
    listener = new H2Listener(router.handle);
    address = `127.0.0.1:${await listener.listen({ host: "127.0.0.1", port: 0 })}`;
  });
  afterAll(() => {
    for (const h of handles) h.close();
    listener?.destroy();
    for (const i of registry.all()) i.unserve("stopped");
    backend?.forceShutdown();
    health.close();
    localServer?.forceShutdown();
    authn?.close();
  });

  const kv = () => {
    const h = createClient(KeyValueBasicInterface, address);
    handles.push(h);
    return h.client;
  };
  const md = (ns: string, extra: Record<string, string>) => ({ metadata: { "x-prism-namespace": ns, ...extra }, timeoutMs: 5_000 });

  test("a first JWT call (verified asynchronously) reaches the pattern with its request, without the token", async () => {
    const token = await issuer.sign({ sub: "alice" });
    const c = kv();
    const r = await c.get({ key: "hello" }, md("a", { authorization: `Bearer ${token}` }));
    expect(new TextDecoder().decode(r.value)).toBe("hello");
    expect(seen.at(-1)!.get("authorization")).toEqual([]);
    // Same connection, same token: the cached, synchronous path.
    expect((await codeOf(() => c.get({ key: "again" }, md("a", { authorization: `Bearer ${token}` }))))[0]).toBe(Code.OK);
  });

  test("classes and namespaces: read on a only for alice, write on b* only for the key; audit lines", async () => {
    const token = await issuer.sign({ sub: "alice" });
    const c = kv();
    expect((await codeOf(() => c.set({ key: "k", value: new Uint8Array() }, md("a", { authorization: `Bearer ${token}` }))))[0]).toBe(Code.PERMISSION_DENIED);
    expect((await codeOf(() => c.get({ key: "k" }, md("b", { authorization: `Bearer ${token}` }))))[0]).toBe(Code.PERMISSION_DENIED);
    expect((await codeOf(() => c.set({ key: "k", value: new Uint8Array() }, md("b", { "x-api-key": "writer-key-123456" }))))[0]).toBe(Code.OK);
    expect((await codeOf(() => c.get({ key: "k" }, md("b", { "x-api-key": "writer-key-123456" }))))[0]).toBe(Code.PERMISSION_DENIED);
    expect(audit.some((e) => e.decision === "allow" && e.principal === "key:writer" && e.operation === "write" && e.namespace === "b")).toBe(true);
    expect(audit.filter((e) => e.decision === "deny").map((e) => `${e.principal} ${e.namespace} ${e.operation}`)).toEqual([
      "sub:alice a write",
      "sub:alice b read",
      "key:writer b read",
    ]);
  });

  test("missing and bad credentials are UNAUTHENTICATED; health stays open", async () => {
    const c = kv();
    expect(await codeOf(() => c.get({ key: "k" }, md("a", {})))).toEqual([Code.UNAUTHENTICATED, "authentication required"]);
    expect(await codeOf(() => c.get({ key: "k" }, md("a", { authorization: "Bearer nope" })))).toEqual([Code.UNAUTHENTICATED, "invalid credentials"]);
    expect(audit.at(-1)).toMatchObject({ decision: "unauthenticated", principal: "anonymous", reason: expect.stringContaining("bearer token rejected") });
    const h = createClient(Health, address);
    handles.push(h);
    expect((await codeOf(() => h.client.check({ service: "" }, { timeoutMs: 5_000 })))[0]).toBe(Code.OK);
  });
});

describe("tls helpers", () => {
  test("loopback addresses", () => {
    for (const h of ["127.0.0.1", "127.1.2.3", "::1", "[::1]", "localhost", "unix:/tmp/x"]) expect(isLoopback(h)).toBe(true);
    for (const h of ["0.0.0.0", "10.0.0.1", "::", "example.com"]) expect(isLoopback(h)).toBe(false);
  });
  test("unreadable certificate files throw at once", () => {
    expect(() => readServerTls({ certFile: "/nonexistent.crt", keyFile: "/nonexistent.key" })).toThrow();
  });
});
