/**
 * Shutdown: SIGTERM drains and stops every launched pattern and exits 0 with no
 * pattern process left; after SIGKILL of the proxy the patterns notice the lost
 * control stream and exit by themselves.
 */
import { describe, expect, test } from "bun:test";
import { Code, PrismError } from "../../sdk/grpc/errors";
import { clientsFor, eventually, killIfAlive, pidAlive, startProxy, text, utf8 } from "./harness";

const TWO_NAMESPACES = `
namespaces:
  - name: default
    pattern: memstore
  - name: cache
    pattern: memstore
`;

describe("proxy shutdown", () => {
  test("SIGTERM: in-flight streams end, patterns are drained and stopped, exit 0, no pattern process left", async () => {
    const proxy = await startProxy(TWO_NAMESPACES);
    const pids = (await proxy.patterns()).map((p) => p.pid!);
    const c = clientsFor(proxy.address, "cache");
    try {
      expect(pids).toHaveLength(2);
      for (const pid of pids) expect(pidAlive(pid)).toBe(true);
      await c.kv.set({ key: "k", value: utf8("v") }, c.opts());
      // A Subscribe stream is open through the proxy when the signal arrives.
      const sub = c.pubsub.subscribe({ topic: "t", subscriberId: "s" }, c.opts({ timeoutMs: 30_000 }));
      const reading = (async () => {
        try {
          for await (const _ of sub) {
            /* none published */
          }
          return Code.OK;
        } catch (err) {
          return PrismError.from(err).code;
        }
      })();
      await eventually(async () => (await c.lifecycle.healthCheck({}, c.opts())).details.subscribers === "1", "the stream is open", 5_000);

      const start = Date.now();
      proxy.proc.kill("SIGTERM");
      expect(await proxy.exited).toBe(0);
      expect(Date.now() - start).toBeLessThan(15_000);
      // The stream ended (cleanly, or UNAVAILABLE once the proxy went away), it did not hang.
      expect<number[]>([Code.OK, Code.UNAVAILABLE, Code.CANCELLED]).toContain(await reading);
      for (const pid of pids) expect(pidAlive(pid)).toBe(false);
      const out = proxy.output();
      expect(out.match(/"msg":"pattern stopped"[^\n]*"exit_code":0/g)).toHaveLength(2);
      expect(out).toMatch(/"msg":"shutdown complete","component":"proxy"/);
    } finally {
      c.close();
      await proxy.stop();
      proxy.cleanup();
      killIfAlive(pids);
    }
  }, 30_000);

  test("SIGKILL: patterns exit by themselves within a few seconds", async () => {
    const proxy = await startProxy(TWO_NAMESPACES);
    const pids = (await proxy.patterns()).map((p) => p.pid!);
    try {
      expect(pids).toHaveLength(2);
      proxy.proc.kill("SIGKILL");
      await proxy.exited;
      await eventually(() => pids.every((pid) => !pidAlive(pid)), "every pattern has exited", 5_000);
    } finally {
      proxy.cleanup();
      killIfAlive(pids);
    }
  }, 30_000);

  test("a hung pattern with shutdown_timeout below drain_timeout is killed, and the proxy still exits 0 within the bound", async () => {
    // drain_timeout defaults to 10 s: the steps must be cut to fit the 5 s bound, not run past it and exit 2 leaving the pattern.
    const proxy = await startProxy("shutdown_timeout: 5s\nnamespaces:\n  - name: default\n    pattern: memstore\n");
    const pid = (await proxy.pattern("default")).pid!;
    try {
      // A stopped process answers neither Drain nor Stop nor SIGTERM; only SIGKILL ends it.
      process.kill(pid, "SIGSTOP");
      const start = Date.now();
      proxy.proc.kill("SIGTERM");
      expect(await proxy.exited).toBe(0);
      expect(Date.now() - start).toBeLessThan(6_000);
      expect(pidAlive(pid)).toBe(false);
      expect(proxy.output()).toMatch(/"msg":"pattern stopped"[^\n]*"signal":"SIGKILL"/);
    } finally {
      await proxy.stop();
      proxy.cleanup();
      killIfAlive([pid]);
    }
  }, 30_000);

  test("a new call during shutdown is refused, not hung", async () => {
    const proxy = await startProxy(TWO_NAMESPACES);
    const pids = (await proxy.patterns()).map((p) => p.pid!);
    const c = clientsFor(proxy.address);
    try {
      await c.kv.set({ key: "k", value: utf8("v") }, c.opts());
      expect(text((await c.kv.get({ key: "k" }, c.opts())).value)).toBe("v");
      proxy.proc.kill("SIGTERM");
      const start = Date.now();
      let code: number = Code.OK;
      try {
        await c.kv.get({ key: "k" }, c.opts({ timeoutMs: 5_000 }));
      } catch (err) {
        code = PrismError.from(err).code;
      }
      // Either it slipped in before the GOAWAY and succeeded, or it was refused as UNAVAILABLE.
      expect<number[]>([Code.OK, Code.UNAVAILABLE]).toContain(code);
      expect(Date.now() - start).toBeLessThan(5_000);
      expect(await proxy.exited).toBe(0);
    } finally {
      c.close();
      await proxy.stop();
      proxy.cleanup();
      killIfAlive(pids);
    }
  }, 30_000);
});
