/**
 * Supervision: kill -9 a launched pattern under load. Calls fail UNAVAILABLE
 * quickly (never hang), the proxy restarts the pattern with backoff, calls succeed
 * again without restarting the proxy, and the restart is counted and logged once.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Code, PrismError } from "../../sdk/grpc/errors";
import { clientsFor, eventually, killIfAlive, pidAlive, startProxy, utf8, type StartedProxy } from "./harness";

interface Outcome {
  code: number;
  ms: number;
  at: number;
}

describe("a crashed pattern is restarted", () => {
  let proxy: StartedProxy;
  const pids: number[] = [];
  beforeAll(async () => {
    proxy = await startProxy(`
namespaces:
  - name: default
    pattern: memstore
    settings: { health_interval: 500ms, restart_initial_delay: 100ms, restart_max_delay: 1s }
`);
  }, 30_000);
  afterAll(async () => {
    const p = await proxy?.pattern("default").catch(() => undefined);
    if (p?.pid) pids.push(p.pid);
    await proxy?.stop();
    proxy?.cleanup();
    killIfAlive(pids);
  });

  test("kill -9 under load: UNAVAILABLE quickly, restarted, serving again", async () => {
    const before = await proxy.pattern("default");
    expect(before.status).toBe("serving");
    expect(before.last_exit).toBeNull();
    const oldPid = before.pid!;
    pids.push(oldPid);

    const outcomes: Outcome[] = [];
    let running = true;
    const workers = Array.from({ length: 4 }, async (_, w) => {
      const c = clientsFor(proxy.address);
      try {
        for (let i = 0; running; i++) {
          const t = performance.now();
          let code: number = Code.OK;
          try {
            await c.kv.set({ key: `load-${w}-${i}`, value: utf8("x") }, c.opts({ timeoutMs: 5_000 }));
          } catch (err) {
            code = PrismError.from(err).code;
          }
          outcomes.push({ code, ms: performance.now() - t, at: Date.now() });
          // Failed calls come back at once; pace them so the loop does not spin.
          if (code !== Code.OK) await Bun.sleep(20);
        }
      } finally {
        c.close();
      }
    });

    await eventually(() => outcomes.filter((o) => o.code === Code.OK).length >= 20, "load is flowing", 10_000);
    const killedAt = Date.now();
    process.kill(oldPid, "SIGKILL");
    await eventually(
      async () => {
        const p = await proxy.pattern("default");
        return p.status === "serving" && p.pid !== oldPid;
      },
      "the pattern is serving again",
      15_000,
    );
    const servingAgainAt = Date.now();
    await eventually(() => outcomes.some((o) => o.code === Code.OK && o.at > servingAgainAt), "calls succeed again", 10_000);
    running = false;
    await Promise.all(workers);

    const after = await proxy.pattern("default");
    pids.push(after.pid!);
    expect(after.restarts).toBe(1);
    expect(after.last_error).toBeNull();
    // /patterns says how the killed process ended, and when.
    expect(after.last_exit).toMatchObject({ pid: oldPid, code: null, signal: "SIGKILL" });
    expect(Date.parse(after.last_exit!.at)).toBeGreaterThanOrEqual(killedAt - 1_000);
    expect(Date.parse(after.last_exit!.at)).toBeLessThanOrEqual(Date.now());
    expect(pidAlive(oldPid)).toBe(false);

    const failed = outcomes.filter((o) => o.code !== Code.OK);
    expect(failed.length).toBeGreaterThan(0);
    // Every failure is UNAVAILABLE (safe to retry) and came back quickly: no call hung.
    expect(new Set(failed.map((o) => o.code))).toEqual(new Set([Code.UNAVAILABLE]));
    expect(Math.max(...failed.map((o) => o.ms))).toBeLessThan(2_000);
    expect(Math.max(...outcomes.filter((o) => o.at > killedAt).map((o) => o.ms))).toBeLessThan(2_000);

    expect(await proxy.metrics()).toMatch(/prism_pattern_restarts_total\{namespace="default",pattern="memstore"\} 1\b/);
    expect(proxy.output().match(/"msg":"pattern exited; restarting"/g)).toHaveLength(1);
  }, 60_000);
});
