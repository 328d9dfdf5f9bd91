/**
 * Supervision: kill -9 a launched pattern under load. Calls fail quickly (never hang): UNAVAILABLE when they
 * certainly had no effect, UNKNOWN ("outcome is unknown", contract §5) only for calls already sent to the
 * killed process — a Subscribe open at the kill among them. The proxy restarts the pattern with backoff, calls
 * succeed again without restarting the proxy, and the restart is counted and logged once.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Code, PrismError } from "../../sdk/grpc/errors";
import { clientsFor, eventually, killIfAlive, pidAlive, startProxy, utf8, type StartedProxy } from "./harness";

interface Outcome {
  code: number;
  message: string;
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

  test("kill -9 under load: UNAVAILABLE or (sent) UNKNOWN quickly, restarted, serving again", async () => {
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
          let message = "";
          try {
            await c.kv.set({ key: `load-${w}-${i}`, value: utf8("x") }, c.opts({ timeoutMs: 5_000 }));
          } catch (err) {
            ({ code, message } = PrismError.from(err));
          }
          outcomes.push({ code, message, ms: performance.now() - t, at: Date.now() });
          // Failed calls come back at once; pace them so the loop does not spin.
          if (code !== Code.OK) await Bun.sleep(20);
        }
      } finally {
        c.close();
      }
    });

    await eventually(() => outcomes.filter((o) => o.code === Code.OK).length >= 20, "load is flowing", 10_000);
    // A Subscribe the pattern has certainly taken: it delivered a message.
    const sub = clientsFor(proxy.address);
    let delivered!: () => void;
    const live = new Promise<void>((r) => (delivered = r));
    const subscription = (async () => {
      try {
        for await (const _ of sub.pubsub.subscribe({ topic: "t", subscriberId: "s" }, sub.opts({ timeoutMs: 30_000 }))) delivered();
        return { code: Code.OK as number, message: "end of stream" };
      } catch (err) {
        return PrismError.from(err);
      }
    })();
    for (let i = 0; i < 100; i++) {
      await sub.pubsub.publish({ topic: "t", payload: utf8("m") }, sub.opts());
      if (await Promise.race([live.then(() => true), Bun.sleep(50).then(() => false)])) break;
    }
    await live;
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
    // Every failure is UNAVAILABLE (safe to retry), or UNKNOWN saying so for a call the killed process had (begun
    // before the kill); all came back quickly: no call hung.
    for (const o of failed) {
      if (o.code === Code.UNKNOWN) {
        expect(o.message).toContain("outcome is unknown");
        expect(o.at - o.ms).toBeLessThanOrEqual(killedAt + 50);
      } else expect(o.code).toBe(Code.UNAVAILABLE);
    }
    // The Subscribe was in the killed process: its end is not "certainly no effect".
    const ended = await subscription;
    sub.close();
    expect(ended.code).toBe(Code.UNKNOWN);
    expect(ended.message).toContain("outcome is unknown");
    expect(Math.max(...failed.map((o) => o.ms))).toBeLessThan(2_000);
    expect(Math.max(...outcomes.filter((o) => o.at > killedAt).map((o) => o.ms))).toBeLessThan(2_000);

    expect(await proxy.metrics()).toMatch(/prism_pattern_restarts_total\{namespace="default",pattern="memstore"\} 1\b/);
    expect(proxy.output().match(/"msg":"pattern exited; restarting"/g)).toHaveLength(1);
  }, 60_000);
});
