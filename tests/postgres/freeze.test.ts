/**
 * The postgres driver when its server freezes (SIGSTOP of the server and every backend, a server of the test's
 * own): calls fail fast — none waits out the freeze — and say what they know (contract §5): a call answered
 * UNAVAILABLE was not applied; a write caught in flight is DEADLINE_EXCEEDED / UNKNOWN. Health turns unhealthy;
 * on thaw calls resume within about a second even with a long breaker open duration.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { parsePostgresConfig } from "../../postgres/config";
import { PostgresDriver } from "../../postgres/driver";
import { Code, PrismError } from "../../sdk/grpc/errors";
import { createLogger } from "../../sdk/observability/logger";
import { startOwnPostgres, type OwnPostgres } from "./server";

const utf8 = (s: string) => new TextEncoder().encode(s);
const FREEZE_MS = 4_000;
/** Longest acceptable call while frozen: the health check's bound (750 ms + one 250 ms interval) plus slack for a loaded machine. */
const BOUND_MS = 2_500;

interface Outcome {
  key: string;
  start: number;
  ms: number;
  code: number;
}

describe("postgres driver across a server freeze", () => {
  let server: OwnPostgres;
  let d: PostgresDriver;
  beforeAll(async () => {
    server = await startOwnPostgres();
    // Defaults (statement_timeout 5 s, health check 250 ms / 750 ms) but a breaker that would stay open for 30 s.
    const cfg = parsePostgresConfig({ ...server.config, pool_size: 4, breaker: { open_duration: "30s" } }, { configFile: "test", namespace: "freeze" });
    d = new PostgresDriver(cfg, createLogger({ level: "error" }));
    expect(await d.connected()).toBe(true);
    d.start();
  }, 60_000);
  afterAll(async () => {
    server?.resume();
    await d?.close();
    await server?.close();
  });

  test("no call waits out the freeze; UNAVAILABLE writes were not applied; calls resume within about a second of the thaw", async () => {
    const outcomes: Outcome[] = [];
    let seq = 0;
    let running = true;
    const t0 = performance.now();
    const writer = async () => {
      while (running) {
        const key = `k${++seq}`;
        const start = performance.now() - t0;
        let code: number = Code.OK;
        try {
          await d.set(key, utf8("v"), 0);
        } catch (err) {
          code = PrismError.from(err).code;
          await Bun.sleep(5);
        }
        outcomes.push({ key, start, ms: performance.now() - t0 - start, code });
      }
    };
    const writers = Array.from({ length: 8 }, writer);
    await Bun.sleep(500);
    expect((await d.health()).status).toBe("healthy");

    const freezeAt = performance.now() - t0;
    server.pause();
    let unhealthy = false;
    while (performance.now() - t0 - freezeAt < FREEZE_MS) {
      if (!unhealthy && (await d.health()).status === "unhealthy") unhealthy = true;
      await Bun.sleep(100);
    }
    server.resume();
    const thawAt = performance.now() - t0;
    let resumedMs = Number.POSITIVE_INFINITY;
    while (performance.now() - t0 - thawAt < 10_000) {
      const ok = outcomes.find((o) => o.start >= thawAt && o.code === Code.OK);
      if (ok) {
        resumedMs = ok.start + ok.ms - thawAt;
        break;
      }
      await Bun.sleep(20);
    }
    running = false;
    await Promise.all(writers);

    const overlapping = outcomes.filter((o) => o.start < thawAt && o.start + o.ms > freezeAt);
    const longest = Math.max(...overlapping.map((o) => o.ms));
    const byCode: Record<number, number> = {};
    for (const o of overlapping) byCode[o.code] = (byCode[o.code] ?? 0) + 1;
    console.log(
      `postgres freeze ${FREEZE_MS} ms: ${overlapping.length} calls, by code ${JSON.stringify(byCode)}, longest ${longest.toFixed(0)} ms; resumed ${resumedMs.toFixed(0)} ms after the thaw`,
    );
    expect(unhealthy).toBe(true);
    expect(longest).toBeLessThan(BOUND_MS);
    expect(byCode[Code.UNAVAILABLE] ?? 0).toBeGreaterThan(0);
    const allowed: number[] = [Code.OK, Code.UNAVAILABLE, Code.DEADLINE_EXCEEDED, Code.UNKNOWN];
    expect(outcomes.filter((o) => !allowed.includes(o.code))).toEqual([]);
    // Per call: OK was applied, UNAVAILABLE was not (the rest may be either).
    const stored = new Set((await d.batchGet(outcomes.map((o) => o.key))).map((v, i) => (v === undefined ? "" : outcomes[i]!.key)));
    const wrong = outcomes.filter((o) => (o.code === Code.OK && !stored.has(o.key)) || (o.code === Code.UNAVAILABLE && stored.has(o.key)));
    expect(wrong).toEqual([]);
    expect(resumedMs).toBeLessThan(2_000);
    expect((await d.health()).status).toBe("healthy");
  }, 60_000);
});
