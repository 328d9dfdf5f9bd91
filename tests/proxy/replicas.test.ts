/**
 * Pattern replicas (issue 24 item 1). Three launched memstore instances of one namespace: unary calls spread over
 * them by least outstanding calls; kill -9 of one under load ends only calls in flight on it, with the
 * outcome-safe codes of contract §5 and long before their deadline; new calls go to the other two; the
 * supervisor restarts it and it takes calls again. Streams stay on the instance they started on. Three remote
 * instances (`addresses:`): one whose health Watch says NOT_SERVING, or whose connection drops, gets no new
 * calls until it recovers. Per-instance health and load come from /patterns.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Serving } from "../../sdk/grpc/health";
import { Code, PrismError } from "../../sdk/grpc/errors";
import { codeName } from "../../sdk/errors";
import { waitFor } from "../helpers/wait";
import { startFakePattern, type FakePattern } from "./fake_pattern";
import { ROOT } from "../helpers/process";
import { clientsFor, killIfAlive, requireBuilt, startProxy, utf8, type PatternSnapshot, type StartedProxy } from "./harness";

interface Replica extends PatternSnapshot {
  replica: number;
  in_flight: number;
  calls: number;
}
type Namespace = PatternSnapshot & { replicas: Replica[]; calls: number };

interface Outcome {
  code: number;
  message: string;
  startedAt: number;
  ms: number;
}

const DEADLINE_MS = 5_000;

/** waitFor for a value that is there once the wait is over. */
async function present<T>(check: () => T | undefined | Promise<T | undefined>, what: string, o?: { timeoutMs?: number; intervalMs?: number }): Promise<T> {
  return (await waitFor(check, what, o)) as T;
}

async function replicas(proxy: StartedProxy, ns: string): Promise<Replica[]> {
  return ((await proxy.pattern(ns)) as Namespace).replicas;
}

describe("three launched instances of one namespace", () => {
  let proxy: StartedProxy;
  const pids: number[] = [];
  beforeAll(async () => {
    proxy = await startProxy(`
namespaces:
  - name: rep
    pattern: memstore
    replicas: 3
    settings: { health_interval: 500ms, restart_initial_delay: 100ms, restart_max_delay: 1s }
`);
  }, 30_000);
  afterAll(async () => {
    for (const r of (await replicas(proxy, "rep").catch(() => [])) ?? []) if (r.pid) pids.push(r.pid);
    await proxy?.stop();
    proxy?.cleanup();
    killIfAlive(pids);
  });

  test("/patterns lists each instance with its pid, health and load", async () => {
    const list = await present(async () => {
      const r = await replicas(proxy, "rep");
      return r.length === 3 && r.every((x) => x.ready) ? r : undefined;
    }, "three instances ready");
    expect(list.map((r) => r.replica)).toEqual([0, 1, 2]);
    expect(new Set(list.map((r) => r.pid)).size).toBe(3);
    for (const r of list) {
      expect(r.status).toBe("serving");
      expect(r.health?.status).toBe("HEALTHY");
      expect(r.in_flight).toBe(0);
    }
    const ns = (await proxy.pattern("rep")) as Namespace;
    expect(ns.status).toBe("serving");
    expect(ns.ready).toBe(true);
  });

  test("prismctl patterns shows one line per instance with its load", async () => {
    requireBuilt("prismctl");
    const p = Bun.spawnSync([`${ROOT}/dist/prismctl`, "--addr", proxy.address, "--admin", proxy.admin.replace("http://", ""), "patterns"]);
    expect(p.exitCode).toBe(0);
    const lines = p.stdout.toString().trim().split("\n");
    const list = await replicas(proxy, "rep");
    for (const r of list) {
      expect(lines.find((l) => l.startsWith(`rep/${r.replica} `))).toMatch(
        new RegExp(`^rep/${r.replica}\\s+memstore\\s+serving\\s+${r.pid}\\s.*in_flight=\\d+ calls=\\d+`),
      );
    }
  });

  test("kill -9 of one under load: in-flight calls end safe and fast, new ones succeed on the others, it comes back", async () => {
    // Streams stay where they started: three Subscribes, one per instance (each goes to the least busy one).
    const sub = clientsFor(proxy.address, "rep");
    const streams = Array.from({ length: 3 }, (_, i) => {
      const s = { ended: undefined as undefined | { code: number; message: string; at: number } };
      void (async () => {
        try {
          for await (const _ of sub.pubsub.subscribe({ topic: `t${i}`, subscriberId: `s${i}` }, sub.opts({ timeoutMs: 60_000 }))) {
            /* nothing is published */
          }
          s.ended = { code: Code.OK, message: "end of stream", at: Date.now() };
        } catch (err) {
          const e = PrismError.from(err);
          s.ended = { code: e.code, message: e.message, at: Date.now() };
        }
      })();
      return s;
    });
    await waitFor(async () => (await replicas(proxy, "rep")).every((r) => r.in_flight === 1), "one stream open on each instance");

    const outcomes: Outcome[] = [];
    let running = true;
    const workers = Array.from({ length: 6 }, async (_, w) => {
      const c = clientsFor(proxy.address, "rep");
      try {
        for (let i = 0; running; i++) {
          const startedAt = Date.now();
          const t = performance.now();
          let code: number = Code.OK;
          let message = "";
          try {
            await c.kv.set({ key: `load-${w}-${i}`, value: utf8("x") }, c.opts({ timeoutMs: DEADLINE_MS }));
          } catch (err) {
            ({ code, message } = PrismError.from(err));
          }
          outcomes.push({ code, message, startedAt, ms: performance.now() - t });
          if (code !== Code.OK) await Bun.sleep(10);
        }
      } finally {
        c.close();
      }
    });
    try {
      await waitFor(() => outcomes.filter((o) => o.code === Code.OK).length >= 600, "load is flowing", { timeoutMs: 20_000 });
      // Least outstanding calls: every instance takes a share of the unary calls.
      const before = await replicas(proxy, "rep");
      const total = before.reduce((n, r) => n + r.calls, 0);
      const shares = before.map((r) => r.calls / total);
      console.log(`calls per instance before the kill: ${before.map((r) => r.calls).join(" / ")}`);
      for (const s of shares) expect(s).toBeGreaterThan(0.1);

      const victim = before[1]!;
      pids.push(victim.pid!);
      const killedAt = Date.now();
      process.kill(victim.pid!, "SIGKILL");
      const outAfter = await present(
        async () => {
          const r = (await replicas(proxy, "rep"))[1]!;
          return r.ready ? undefined : Date.now() - killedAt;
        },
        "the killed instance is out",
        { timeoutMs: 5_000, intervalMs: 10 },
      );
      console.log(`killed instance out of rotation after ${outAfter} ms (polled every 10 ms)`);
      // The stream on the killed instance ended at once, UNKNOWN (it was sent) or UNAVAILABLE; the others stay open.
      const ended = await present(() => streams.find((s) => s.ended)?.ended, "the stream on the killed instance ended", { timeoutMs: 3_000 });
      expect([Code.UNAVAILABLE, Code.UNKNOWN] as number[]).toContain(ended.code);
      expect(ended.at - killedAt).toBeLessThan(DEADLINE_MS);

      const restarted = await present(
        async () => {
          const r = (await replicas(proxy, "rep"))[1]!;
          return r.ready && r.pid !== victim.pid ? r : undefined;
        },
        "the killed instance was restarted and is ready",
        { timeoutMs: 15_000 },
      );
      expect(restarted.restarts).toBe(1);
      expect(restarted.last_exit?.signal).toBe("SIGKILL");
      pids.push(restarted.pid!);
      const callsAtReturn = restarted.calls;
      // It takes calls again.
      await waitFor(async () => (await replicas(proxy, "rep"))[1]!.calls > callsAtReturn + 50, "the restarted instance takes calls again", {
        timeoutMs: 10_000,
      });
      running = false;
      await Promise.all(workers);

      const failed = outcomes.filter((o) => o.code !== Code.OK);
      const afterKill = outcomes.filter((o) => o.startedAt >= killedAt);
      const slowest = Math.max(...outcomes.map((o) => o.ms));
      console.log(
        `calls: ${outcomes.length}, failed: ${failed.length} (${failed.map((f) => codeName(f.code)).join(", ") || "none"}), ` +
          `started after the kill: ${afterKill.length}, slowest call ${slowest.toFixed(0)} ms`,
      );
      for (const f of failed) {
        // Contract §5: UNAVAILABLE (no effect, retry) or UNKNOWN saying the outcome is unknown; never a deadline.
        expect([Code.UNAVAILABLE, Code.UNKNOWN] as number[]).toContain(f.code);
        if (f.code === Code.UNKNOWN) expect(f.message).toContain("outcome is unknown");
        expect(f.ms).toBeLessThan(DEADLINE_MS);
      }
      // Only calls in flight at the kill may fail: those started once the instance was out all succeed.
      const late = outcomes.filter((o) => o.startedAt >= killedAt + outAfter && o.code !== Code.OK);
      expect(late).toEqual([]);
      expect(afterKill.filter((o) => o.code === Code.OK).length).toBeGreaterThan(100);
      // The two streams on the instances that lived are still open.
      expect(streams.filter((s) => s.ended === undefined).length).toBe(2);
    } finally {
      running = false;
      await Promise.all(workers);
      sub.close();
    }
  }, 60_000);
});

describe("three remote instances (addresses:)", () => {
  let proxy: StartedProxy;
  const fakes: FakePattern[] = [];
  beforeAll(async () => {
    for (let i = 0; i < 3; i++) fakes.push(await startFakePattern());
    proxy = await startProxy(`
namespaces:
  - name: far
    addresses: [${fakes.map((f) => f.address).join(", ")}]
    settings: { health_interval: 200ms, restart_initial_delay: 50ms, restart_max_delay: 200ms }
`);
  }, 30_000);
  afterAll(async () => {
    await proxy?.stop();
    proxy?.cleanup();
    for (const f of fakes) f.stop();
  });

  /** Sends n Gets through the proxy (8 at a time); returns how many each fake saw. */
  async function spread(n: number): Promise<number[]> {
    const seen = fakes.map((f) => f.calls.length);
    const c = clientsFor(proxy.address, "far");
    try {
      for (let i = 0; i < n; i += 8) {
        await Promise.all(Array.from({ length: 8 }, (_, j) => c.kv.get({ key: `k${i + j}` }, c.opts())));
      }
    } finally {
      c.close();
    }
    return fakes.map((f, i) => f.calls.length - seen[i]!);
  }

  test("calls spread over the three; NOT_SERVING takes one out within a second and SERVING brings it back", async () => {
    await waitFor(async () => (await replicas(proxy, "far")).every((r) => r.ready), "three remote instances ready");
    const even = await spread(240);
    console.log(`Gets per remote instance: ${even.join(" / ")}`);
    for (const n of even) expect(n).toBeGreaterThan(24);

    const flippedAt = Date.now();
    fakes[0]!.health.set("", Serving.NOT_SERVING);
    const outAfter = await present(async () => ((await replicas(proxy, "far"))[0]!.ready ? undefined : Date.now() - flippedAt), "instance 0 out", {
      timeoutMs: 5_000,
      intervalMs: 10,
    });
    console.log(`NOT_SERVING instance out of rotation after ${outAfter} ms (polled every 10 ms)`);
    expect(outAfter).toBeLessThan(1_000);
    const without = await spread(120);
    expect(without[0]).toBe(0);
    expect(without[1]! + without[2]!).toBe(120);

    fakes[0]!.health.set("", Serving.SERVING);
    await waitFor(async () => (await replicas(proxy, "far"))[0]!.ready, "instance 0 back", { timeoutMs: 5_000 });
    const back = await spread(120);
    expect(back[0]).toBeGreaterThan(0);
  }, 30_000);

  test("an instance whose connection drops gets no calls; started again on its port, it takes calls again", async () => {
    const port = fakes[2]!.port;
    fakes[2]!.stop();
    const droppedAt = Date.now();
    await waitFor(async () => !(await replicas(proxy, "far"))[2]!.ready, "instance 2 out", { timeoutMs: 5_000, intervalMs: 10 });
    console.log(`dropped instance out of rotation after ${Date.now() - droppedAt} ms`);
    const seen = await spread(120);
    expect(seen[0]! + seen[1]!).toBe(120);
    fakes[2] = await startFakePattern(port);
    await waitFor(async () => (await replicas(proxy, "far"))[2]!.ready, "instance 2 back", { timeoutMs: 10_000 });
    const back = await spread(120);
    expect(back[2]).toBeGreaterThan(0);
  }, 30_000);
});
