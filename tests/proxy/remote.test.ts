/**
 * A namespace served by a pattern the proxy does not launch (`address:`), played by
 * an in-process fake that records what reaches it: Initialize through
 * LifecycleInterface, metadata and traceparent, deadline propagation and
 * cancellation, trailing metadata back, UNIMPLEMENTED for undeclared services,
 * UNAVAILABLE while it is down and recovery when it returns.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { ServiceError } from "@grpc/grpc-js";
import { HealthCheckResponse_ServingStatus } from "../../proto/gen/grpc/health/v1/health_pb";
import { Code, PrismError } from "../../sdk/grpc/errors";
import { startFakePattern, type FakePattern } from "./fake_pattern";
import { clientsFor, eventually, startProxy, text, type StartedProxy } from "./harness";

async function failure(call: () => Promise<unknown>): Promise<PrismError> {
  try {
    await call();
  } catch (err) {
    return PrismError.from(err);
  }
  throw new Error("the call succeeded");
}

describe("remote namespace (address:)", () => {
  let fake: FakePattern;
  let proxy: StartedProxy;
  let c: ReturnType<typeof clientsFor>;
  beforeAll(async () => {
    fake = await startFakePattern();
    proxy = await startProxy(`
namespaces:
  - name: remote
    address: ${fake.address}
    config: { flavour: vanilla }
    settings: { health_interval: 100ms, restart_initial_delay: 50ms, restart_max_delay: 200ms }
`);
    c = clientsFor(proxy.address, "remote");
  }, 30_000);
  afterAll(async () => {
    c?.close();
    await proxy?.stop();
    proxy?.cleanup();
    fake?.stop();
  });

  test("Initialize went over LifecycleInterface with the config and the namespace; data goes to the address", async () => {
    expect(fake.initConfigs[0]).toEqual({ flavour: "vanilla", namespace: "remote" });
    const p = await proxy.pattern("remote");
    expect(p.mode).toBe("remote");
    expect(p.pattern).toBe("fake");
    expect(p.metadata?.version).toBe("9.9.9");
    expect(p.status).toBe("serving");
    expect(p.pid).toBeNull();
    // Not the data_endpoint it advertised: the proxy forwards to the configured address.
    expect(p.endpoint).toBe(fake.address);
  });

  test("metrics carry the name the pattern reported, in one prism_pattern_up series (none under the address)", async () => {
    await c.kv.get({ key: "k" }, c.opts());
    const m = await proxy.metrics();
    expect(m.match(/^prism_pattern_up\{namespace="remote".*$/gm)).toEqual(['prism_pattern_up{namespace="remote",pattern="fake"} 1']);
    expect(m).toMatch(/^prism_requests_total\{namespace="remote",pattern="fake",method="Get",code="OK"\} \d+$/m);
    expect(m).not.toContain(`pattern="${fake.address}"`);
  });

  test("request metadata reaches the pattern (custom keys, namespace, traceparent)", async () => {
    const traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
    const r = await c.kv.get({ key: "echo" }, c.opts({ metadata: { "x-custom": "abc", traceparent } }));
    const md = JSON.parse(text(r.value)) as Record<string, string>;
    expect(md["x-custom"]).toBe("abc");
    expect(md["x-prism-namespace"]).toBe("remote");
    expect(md.traceparent).toBe(traceparent);
  });

  test("status, message and trailing metadata come back unchanged", async () => {
    const e = await failure(() => c.kv.get({ key: "fail" }, c.opts()));
    expect(e.code).toBe(Code.RESOURCE_EXHAUSTED);
    expect(e.message).toBe("slow down, ünïcode");
    expect((e.cause as ServiceError).metadata.get("retry-after")).toEqual(["3"]);
  });

  test("a short deadline: DEADLINE_EXCEEDED, the pattern saw the deadline and the cancellation", async () => {
    const start = Date.now();
    const e = await failure(() => c.kv.get({ key: "slow" }, c.opts({ timeoutMs: 300 })));
    const took = Date.now() - start;
    expect(e.code).toBe(Code.DEADLINE_EXCEEDED);
    expect(took).toBeLessThan(2_000);
    const seen = fake.calls.findLast((x) => x.key === "slow")!;
    expect(seen.metadata).not.toHaveProperty("grpc-timeout");
    expect(Number.isFinite(seen.deadline)).toBe(true);
    expect(seen.deadline).toBeLessThanOrEqual(start + 1_000);
    await eventually(() => seen.cancelledAt !== undefined, "the pattern's call is cancelled", 3_000);
  });

  test("client cancellation reaches the pattern", async () => {
    const ac = new AbortController();
    const pending = c.kv.get({ key: "slow" }, c.opts({ signal: ac.signal }));
    await eventually(() => fake.calls.filter((x) => x.key === "slow").length === 2, "the slow call arrives", 3_000);
    ac.abort();
    expect((await failure(() => pending)).code).toBe(Code.CANCELLED);
    const seen = fake.calls.findLast((x) => x.key === "slow")!;
    await eventually(() => seen.cancelledAt !== undefined, "the pattern's call is cancelled", 3_000);
  });

  test("a service the pattern does not declare is UNIMPLEMENTED, naming it", async () => {
    const e = await failure(() => c.list.length({ key: "l" }, c.opts()));
    expect(e.code).toBe(Code.UNIMPLEMENTED);
    expect(e.message).toContain("prism.interfaces.list.ListBasicInterface");
    expect(e.message).toContain('namespace "remote"');
  });

  test("while the pattern is down calls fail UNAVAILABLE quickly; when it is back it serves again", async () => {
    const port = fake.port;
    fake.stop();
    await eventually(async () => (await proxy.pattern("remote")).status === "unavailable", "the proxy notices", 10_000);
    for (let i = 0; i < 3; i++) {
      const start = Date.now();
      const e = await failure(() => c.kv.get({ key: "echo" }, c.opts()));
      expect(e.code).toBe(Code.UNAVAILABLE);
      expect(Date.now() - start).toBeLessThan(2_000);
    }
    // The proxy can still route (other namespaces are unaffected); the namespace itself is not ready.
    expect(await (await fetch(`${proxy.admin}/ready`)).status).toBe(200);
    expect(await (await fetch(`${proxy.admin}/ready?namespace=remote`)).status).toBe(503);
    expect(await (await fetch(`${proxy.admin}/ready?namespace=nope`)).status).toBe(404);
    expect((await c.health.check({ service: "remote" }, c.opts())).status).toBe(HealthCheckResponse_ServingStatus.NOT_SERVING);
    fake = await startFakePattern(port);
    await eventually(async () => (await proxy.pattern("remote")).status === "serving", "serving again", 10_000);
    expect((await c.kv.get({ key: "echo" }, c.opts())).found).toBe(true);
    expect(await (await fetch(`${proxy.admin}/ready?namespace=remote`)).status).toBe(200);
    expect(fake.initConfigs).toHaveLength(1);
  }, 30_000);
});
