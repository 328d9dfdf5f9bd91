/**
 * A remote namespace's `config:` reaches a pattern that runs with its own configuration (issue 18 item 15): a real
 * standalone dist/memstore answers a config it does not run with by refusing Initialize, naming the keys, and the
 * proxy stops at start-up saying so instead of serving the namespace as if the config had been applied; the config
 * it runs with is accepted.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { startPattern, type StartedPattern } from "../helpers/process";
import { eventually, startProxy, type StartedProxy } from "./harness";

describe("a remote pattern running with its own configuration", () => {
  const cleanups: (() => Promise<void> | void)[] = [];
  afterAll(async () => {
    for (const c of cleanups.reverse()) await c();
  });

  async function remoteMemstore(): Promise<StartedPattern> {
    const p = await startPattern("memstore");
    cleanups.push(() => p.stop(2_000).then(() => undefined));
    return p;
  }

  async function proxyFor(address: string, config: string): Promise<StartedProxy> {
    const proxy = await startProxy(`
namespaces:
  - name: remote
    address: ${address}
    ${config}
    settings: { health_interval: 200ms, restart_initial_delay: 50ms, restart_max_delay: 200ms }
`);
    cleanups.push(async () => {
      await proxy.stop();
      proxy.cleanup();
    });
    return proxy;
  }

  test("a config it does not run with stops the proxy at start-up, naming the file, line and key", async () => {
    const memstore = await remoteMemstore();
    const err = await proxyFor(memstore.address, "config: { max_value_size: 1KiB }").then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message).toContain("proxy.yaml:5: namespaces[0].config:");
    expect(err?.message).toContain('runs with its own configuration, which differs at \\"max_value_size\\"');
  }, 30_000);

  test("the config it runs with is accepted", async () => {
    const memstore = await remoteMemstore();
    const proxy = await proxyFor(memstore.address, "config: {}");
    await eventually(async () => (await proxy.pattern("remote")).status === "serving", "the namespace serves", 10_000);
  }, 30_000);

  test("without config: it serves", async () => {
    const memstore = await remoteMemstore();
    const proxy = await proxyFor(memstore.address, "");
    await eventually(async () => (await proxy.pattern("remote")).status === "serving", "the namespace serves", 10_000);
  }, 30_000);
});
