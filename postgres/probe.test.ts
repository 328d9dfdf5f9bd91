import { describe, expect, test } from "bun:test";
import type { SQL } from "bun";
import { createLogger } from "../sdk/observability/logger";
import { LivenessProbe } from "./probe";

/** A stand-in for Bun.sql: every `select 1` waits until the test answers or fails it. */
function fakeSql() {
  const pending: { resolve: () => void; reject: (e: Error) => void }[] = [];
  let closed = 0;
  const sql = ((_: TemplateStringsArray) =>
    new Promise<void>((resolve, reject) => {
      pending.push({ resolve, reject });
    })) as unknown as SQL;
  (sql as unknown as { close: () => Promise<void> }).close = async () => {
    closed++;
    for (const p of pending.splice(0)) p.reject(new Error("connection closed"));
  };
  return { sql, pending, closed: () => closed };
}

const logger = createLogger({ level: "error" });
const opts = { intervalMs: 1_000_000, timeoutMs: 50, recycleAfterMs: 150 };

describe("postgres health check (LivenessProbe)", () => {
  test("no answer within the timeout: down, calls waiting are told; the late answer: up again, onUp called", async () => {
    const f = fakeSql();
    let ups = 0;
    const p = new LivenessProbe(
      () => f.sql,
      opts,
      logger,
      "pg",
      () => ups++,
    );
    const first = p.check();
    f.pending.shift()!.resolve();
    await first;
    expect(p.down).toBe(false);

    const told: string[] = [];
    p.onceDown((reason) => told.push(reason));
    await p.check(); // unanswered: the verdict is the timeout's
    expect(p.down).toBe(true);
    expect(p.reason).toContain("no answer to select 1 within 50 ms");
    expect(told).toEqual([p.reason]);
    // While the answer is outstanding, no second select 1 is queued behind it.
    await p.check();
    expect(f.pending.length).toBe(1);

    f.pending.shift()!.resolve();
    await Bun.sleep(0);
    expect(p.down).toBe(false);
    expect(ups).toBe(1);
    await p.stop();
  });

  test("a failed select 1 is down at once, with its reason", async () => {
    const f = fakeSql();
    const p = new LivenessProbe(() => f.sql, opts, logger, "pg");
    const v = p.check();
    f.pending.shift()!.reject(new Error("Connection refused"));
    await v;
    expect(p.down).toBe(true);
    expect(p.reason).toBe("select 1 failed: Connection refused");
    await p.stop();
  });

  test("an answer outstanding past recycleAfterMs: the connection is replaced and the next check asks on the new one", async () => {
    const old = fakeSql();
    const fresh = fakeSql();
    const made = [old, fresh];
    const p = new LivenessProbe(() => made.shift()!.sql, opts, logger, "pg");
    await p.check();
    expect(p.down).toBe(true);
    await Bun.sleep(opts.recycleAfterMs + 10);
    await p.check();
    expect(old.closed()).toBe(1);
    const v = p.check();
    expect(fresh.pending.length).toBe(1);
    fresh.pending.shift()!.resolve();
    await v;
    expect(p.down).toBe(false);
    await p.stop();
  });

  test("check(true) reuses a verdict younger than the interval", async () => {
    const f = fakeSql();
    const p = new LivenessProbe(() => f.sql, { ...opts, intervalMs: 60_000 }, logger, "pg");
    const v = p.check();
    f.pending.shift()!.resolve();
    await v;
    await p.check(true);
    expect(f.pending.length).toBe(0);
    void p.check();
    expect(f.pending.length).toBe(1);
    f.pending.shift()!.resolve();
    await p.stop();
  });
});
