import { afterAll, expect, test } from "bun:test";
import { Health, HealthCheckResponse_ServingStatus as Serving } from "../../proto/gen/grpc/health/v1/health_pb";
import { KeyValueBasicInterface } from "../../proto/gen/prism/interfaces/keyvalue/keyvalue_basic_pb";
import { HealthStatus, LifecycleInterface } from "../../proto/gen/prism/interfaces/lifecycle_pb";
import { createClient } from "../../sdk/grpc/client";
import { Code } from "../../sdk/grpc/errors";
import { startPattern, type StartedPattern } from "../helpers/process";
import { codeOf, utf8 } from "../acceptance/target";

const started: StartedPattern[] = [];
afterAll(async () => {
  for (const p of started) await p.stop();
});

const ALL_SERVICES = [
  "prism.interfaces.keyvalue.KeyValueBasicInterface",
  "prism.interfaces.keyvalue.KeyValueTTLInterface",
  "prism.interfaces.keyvalue.KeyValueScanInterface",
  "prism.interfaces.keyvalue.KeyValueBatchInterface",
  "prism.interfaces.list.ListBasicInterface",
  "prism.interfaces.pubsub.PubSubBasicInterface",
  "prism.interfaces.stream.StreamBasicInterface",
  "prism.patterns.keyvalue.KeyValuePattern",
];

test("Initialize -> Start -> HealthCheck (details) -> Stop over LifecycleInterface, then the process exits 0", async () => {
  // Run on its own, Drain and Stop need the pattern's admin credential (issue 11).
  const p = await startPattern("memstore", [], { PRISM_ADMIN_TOKEN: "memstore-admin-token-1" });
  started.push(p);
  const lc = createClient(LifecycleInterface, p.address);
  const kv = createClient(KeyValueBasicInterface, lc.raw);
  try {
    const init = await lc.client.initialize({ name: "memstore", version: "0.1.0" });
    expect(init.success).toBe(true);
    expect(init.metadata?.name).toBe("memstore");
    expect(init.metadata?.interfaces.map((i) => i.name).sort()).toEqual([...ALL_SERVICES].sort());
    expect(init.metadata?.interfaces.every((i) => i.protoHash.length === 64)).toBe(true);

    const start = await lc.client.start({});
    expect(start.success).toBe(true);
    expect(start.dataEndpoint).toBe(p.address);

    await kv.client.set({ key: "a", value: utf8("1") });
    await kv.client.set({ key: "b", value: utf8("2"), ttlSeconds: 60n });
    const h = await lc.client.healthCheck({});
    expect(h.status).toBe(HealthStatus.HEALTHY);
    expect(h.details).toMatchObject({ keys: "2", max_keys: "10000", keys_with_ttl: "1", state: "serving", lists: "0", topics: "0", streams: "0" });

    expect(await codeOf(() => lc.client.drain({ timeoutSeconds: 1 }))).toBe(Code.PERMISSION_DENIED);
    expect(await codeOf(() => lc.client.stop({ timeoutSeconds: 5 }, { metadata: { "x-prism-admin-token": "wrong" } }))).toBe(Code.PERMISSION_DENIED);
    expect((await lc.client.healthCheck({})).details.state).toBe("serving");
    expect((await lc.client.stop({ timeoutSeconds: 5 }, { metadata: { "x-prism-admin-token": "memstore-admin-token-1" } })).success).toBe(true);
    const code = await Promise.race([p.exited, Bun.sleep(5_000).then(() => "still running")]);
    expect(code).toBe(0);
  } finally {
    kv.close();
    lc.close();
  }
});

test("grpc.health.v1 Check is SERVING for the server and each data service; unknown services are NOT_FOUND", async () => {
  const p = await startPattern("memstore");
  started.push(p);
  const h = createClient(Health, p.address);
  try {
    expect((await h.client.check({ service: "" })).status).toBe(Serving.SERVING);
    for (const service of ALL_SERVICES) expect((await h.client.check({ service })).status).toBe(Serving.SERVING);
    expect(await codeOf(() => h.client.check({ service: "no.such.Service" }))).toBe(Code.NOT_FOUND);
  } finally {
    h.close();
  }
});
