/**
 * The key-value and pub/sub acceptance suites against Prism's images run by a real Docker engine
 * (make test-images; not part of the plain `bun test` run, which has no engine to rely on):
 *   - prism/memstore serving directly,
 *   - prism/proxy in front of a prism/memstore container (a remote namespace, `address:`),
 *   - prism/redis on the shared Redis (tests/helpers/services.ts: PRISM_TEST_REDIS_URL).
 * Containers start once and are shared by the suites; afterAll checks each runs as the image's non-root user
 * and exits 0 on `docker stop`.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { runKeyValueSuite } from "../acceptance/keyvalue.suite";
import { runPubSubSuite } from "../acceptance/pubsub.suite";
import type { Target } from "../acceptance/target";
import { redisUrl, requireDocker, requireService } from "../helpers/services";
import { type PrismContainer, processUid, startPatternContainer, startProxyContainer, stopAndExitCode } from "./containers";

const NON_ROOT = 65532;
const started: PrismContainer[] = [];
const once = <T>(start: () => Promise<T>) => {
  let p: Promise<T> | undefined;
  return () => (p ??= start());
};
const track = async (c: Promise<PrismContainer>) => {
  const s = await c;
  started.push(s);
  return s;
};

const memstore = once(async () => {
  await requireDocker();
  return track(startPatternContainer("memstore"));
});
const proxied = once(async () => {
  await requireDocker();
  const backend = await track(startPatternContainer("memstore"));
  const proxy = await track(startProxyContainer([{ name: "containers", address: backend.address, settings: { health_interval: "500ms" } }]));
  return { backend, proxy };
});
const redis = once(async () => {
  await requireDocker();
  await requireService("redis");
  return track(startPatternContainer("redis", { address: redisUrl(), namespace: `containers-${process.pid}` }));
});

/** A target on a shared container: closing it leaves the container for the next suite; afterAll stops it. */
const target = (address: string, metadata?: Record<string, string>): Target => ({ address, metadata, close: async () => {} });

runKeyValueSuite("memstore image", async () => target((await memstore()).address));
runPubSubSuite("memstore image", async () => target((await memstore()).address));
runKeyValueSuite("proxy image -> memstore image", async () => target((await proxied()).proxy.address, { "x-prism-namespace": "containers" }));
runPubSubSuite("proxy image -> memstore image", async () => target((await proxied()).proxy.address, { "x-prism-namespace": "containers" }));
runKeyValueSuite("redis image", async () => target((await redis()).address));
runPubSubSuite("redis image", async () => target((await redis()).address));

describe("the images as a container runtime runs them", () => {
  beforeAll(async () => {
    await Promise.all([memstore(), proxied(), redis()]);
  }, 120_000);

  test("every container runs as the image's non-root user (65532), as the host kernel sees its process", async () => {
    expect(started.length).toBe(4);
    for (const c of started) {
      expect(await processUid(c)).toBe(NON_ROOT);
    }
  });

  test("the proxy container reports the remote pattern serving; /health answers in every container", async () => {
    const { proxy } = await proxied();
    const patterns = (await (await fetch(`${proxy.http}/patterns`)).json()) as Array<{ namespace: string; status: string; mode: string }>;
    expect(patterns).toEqual([expect.objectContaining({ namespace: "containers", mode: "remote", status: "serving" })]);
    for (const c of started) expect((await fetch(`${c.http}/health`)).status).toBe(200);
  });
});

afterAll(async () => {
  // docker stop: SIGTERM, graceful shutdown, exit 0 — proxy first, then the patterns behind it.
  const order = [...started].sort((a, b) => Number(b.name === "proxy") - Number(a.name === "proxy"));
  const codes: Record<string, number> = {};
  for (const c of order) codes[`${c.name} ${c.address}`] = await stopAndExitCode(c);
  expect(Object.values(codes).every((code) => code === 0) ? "all exited 0" : JSON.stringify(codes)).toBe("all exited 0");
}, 120_000);
