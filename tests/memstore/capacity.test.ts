import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { HealthCheckResponse_ServingStatus as Serving, Health } from "../../proto/gen/grpc/health/v1/health_pb";
import { KeyValueBasicInterface } from "../../proto/gen/prism/interfaces/keyvalue/keyvalue_basic_pb";
import { KeyValueBatchInterface } from "../../proto/gen/prism/interfaces/keyvalue/keyvalue_batch_pb";
import { HealthStatus, LifecycleInterface } from "../../proto/gen/prism/interfaces/lifecycle_pb";
import { ListBasicInterface } from "../../proto/gen/prism/interfaces/list/list_basic_pb";
import { StreamBasicInterface } from "../../proto/gen/prism/interfaces/stream/stream_basic_pb";
import { createClient } from "../../sdk/grpc/client";
import { Code } from "../../sdk/grpc/errors";
import { startPattern, type StartedPattern } from "../helpers/process";
import { codeOf, utf8 } from "../acceptance/target";
import { tempConfig } from "./helpers";

describe("memstore capacity (max_keys, max_lists, max_streams)", () => {
  const config = tempConfig("max_keys: 5\nmax_lists: 2\nmax_streams: 2\n");
  let p: StartedPattern;
  let kv: ReturnType<typeof createClient<typeof KeyValueBasicInterface>>;
  beforeAll(async () => {
    p = await startPattern("memstore", ["--config", config.path]);
    kv = createClient(KeyValueBasicInterface, p.address);
  });
  afterAll(async () => {
    kv?.close();
    expect(await p?.stop()).toBe(0);
    config.remove();
  });

  test("new keys beyond max_keys are RESOURCE_EXHAUSTED, health DEGRADED with keys and max_keys; deleting recovers", async () => {
    const batch = createClient(KeyValueBatchInterface, kv.raw);
    const lifecycle = createClient(LifecycleInterface, kv.raw);
    const grpcHealth = createClient(Health, kv.raw);
    for (let i = 0; i < 5; i++) await kv.client.set({ key: `k${i}`, value: utf8("v") });
    expect((await lifecycle.client.healthCheck({})).status).toBe(HealthStatus.DEGRADED);

    expect(await codeOf(() => kv.client.set({ key: "k5", value: utf8("v") }))).toBe(Code.RESOURCE_EXHAUSTED);
    expect(
      await codeOf(() =>
        batch.client.batchSet({
          requests: [
            { key: "k0", value: utf8("w") },
            { key: "k6", value: utf8("v") },
          ],
        }),
      ),
    ).toBe(Code.RESOURCE_EXHAUSTED);
    // Refused whole: the existing key of the refused batch kept its value.
    expect(new TextDecoder().decode((await kv.client.get({ key: "k0" })).value)).toBe("v");
    expect(await codeOf(() => kv.client.set({ key: "k0", value: utf8("overwrite is fine") }))).toBe(Code.OK);

    const h = await lifecycle.client.healthCheck({});
    expect(h.status).toBe(HealthStatus.DEGRADED);
    expect(h.message).toContain("max_keys");
    expect(h.details).toMatchObject({ keys: "5", max_keys: "5", state: "serving" });
    // Degraded still serves: the standard health check stays SERVING.
    expect((await grpcHealth.client.check({ service: "" })).status).toBe(Serving.SERVING);

    await kv.client.delete({ key: "k4" });
    expect(await codeOf(() => kv.client.set({ key: "k5", value: utf8("v") }))).toBe(Code.OK);
    await kv.client.delete({ key: "k5" });
    const after = await lifecycle.client.healthCheck({});
    expect(after.status).toBe(HealthStatus.HEALTHY);
    expect(after.details).toMatchObject({ keys: "4", max_keys: "5" });
  });

  test("a key whose TTL ran out frees its room", async () => {
    await kv.client.set({ key: "k4", value: utf8("v"), ttlSeconds: 1n });
    expect(await codeOf(() => kv.client.set({ key: "extra", value: utf8("v") }))).toBe(Code.RESOURCE_EXHAUSTED);
    const deadline = Date.now() + 10_000;
    let code: number = Code.RESOURCE_EXHAUSTED;
    while (code !== Code.OK && Date.now() < deadline) {
      await Bun.sleep(100);
      code = await codeOf(() => kv.client.set({ key: "extra", value: utf8("v") }));
    }
    expect(code).toBe(Code.OK);
    expect((await kv.client.exists({ key: "k4" })).exists).toBe(false);
  });

  test("new lists beyond max_lists are RESOURCE_EXHAUSTED", async () => {
    const list = createClient(ListBasicInterface, kv.raw);
    await list.client.pushRight({ key: "l1", values: [utf8("a")] });
    await list.client.pushRight({ key: "l2", values: [utf8("a")] });
    expect(await codeOf(() => list.client.pushRight({ key: "l3", values: [utf8("a")] }))).toBe(Code.RESOURCE_EXHAUSTED);
    expect((await list.client.pushLeft({ key: "l1", values: [utf8("b")] })).length).toBe(2n);
    const h = await createClient(LifecycleInterface, kv.raw).client.healthCheck({});
    expect(h.details).toMatchObject({ lists: "2", max_lists: "2", list_items: "3" });
  });

  test("new streams beyond max_streams are RESOURCE_EXHAUSTED; a stream trimmed empty frees its place", async () => {
    const st = createClient(StreamBasicInterface, kv.raw);
    await st.client.append({ stream: "s1", payload: utf8("a") });
    await st.client.append({ stream: "s2", payload: utf8("a") });
    expect(await codeOf(() => st.client.append({ stream: "s3", payload: utf8("a") }))).toBe(Code.RESOURCE_EXHAUSTED);
    expect((await st.client.append({ stream: "s1", payload: utf8("b") })).offset).toBe(1n);
    const lifecycle = createClient(LifecycleInterface, kv.raw);
    expect((await lifecycle.client.healthCheck({})).details).toMatchObject({ streams: "2", max_streams: "2" });
    expect((await st.client.trim({ stream: "s2", beforeOffset: 1n })).lowOffset).toBe(1n);
    expect((await lifecycle.client.healthCheck({})).details).toMatchObject({ streams: "1" });
    // The new stream starts past the forgotten one's offsets.
    expect((await st.client.append({ stream: "s3", payload: utf8("a") })).offset).toBe(1n);
  });
});
