/**
 * The postgres driver when its server dies and comes back (a server of the test's own, killed by pid): calls
 * fail fast with UNAVAILABLE (or, for a write caught mid-flight, an outcome-unknown code), health turns
 * unhealthy, the breaker opens; once the server is back the driver serves again by itself, data intact.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { parsePostgresConfig } from "../../postgres/config";
import { PostgresDriver } from "../../postgres/driver";
import { Code, PrismError } from "../../sdk/grpc/errors";
import { createLogger } from "../../sdk/observability/logger";
import { startOwnPostgres, type OwnPostgres } from "./server";

const utf8 = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array | undefined) => (b === undefined ? undefined : new TextDecoder().decode(b));
const codeOf = (p: Promise<unknown>) =>
  p.then(
    () => Code.OK,
    (e) => PrismError.from(e).code,
  );

describe("postgres driver across a server crash", () => {
  let server: OwnPostgres;
  let d: PostgresDriver;
  beforeAll(async () => {
    server = await startOwnPostgres();
    const cfg = parsePostgresConfig(
      { ...server.config, connect_timeout: "1s", statement_timeout: "1s", breaker: { failure_threshold: 3, open_duration: "300ms" }, pool_size: 2 },
      { configFile: "test", namespace: "outage" },
    );
    d = new PostgresDriver(cfg, createLogger({ level: "error" }));
  }, 60_000);
  afterAll(async () => {
    await d?.close();
    await server?.close();
  });

  test("fails fast while down, recovers by itself, keeps committed data", async () => {
    await d.set("k", utf8("before"), 0);
    expect(text(await d.get("k"))).toBe("before");
    expect((await d.health()).status).toBe("healthy");

    await server.kill();
    // A backend process outlives its killed postmaster for a moment and may still answer on its connection:
    // poll until the loss shows, then every read must be UNAVAILABLE.
    const started = performance.now();
    let read = Code.OK as number;
    for (let i = 0; i < 100 && read === Code.OK; i++) {
      read = await codeOf(d.get("k"));
      if (read === Code.OK) await Bun.sleep(50);
    }
    expect(read).toBe(Code.UNAVAILABLE);
    expect(await codeOf(d.get("k"))).toBe(Code.UNAVAILABLE);
    // A write on a connection that died under it may have reached the server: UNKNOWN is honest there.
    expect([Code.UNAVAILABLE, Code.UNKNOWN, Code.DEADLINE_EXCEEDED] as number[]).toContain(await codeOf(d.set("k2", utf8("v"), 0)));
    for (let i = 0; i < 5; i++) await codeOf(d.get("k"));
    expect(performance.now() - started).toBeLessThan(15_000);
    // Open, or half-open when open_duration (300 ms) passed on a slow machine before this line.
    expect(d.circuitState()).not.toBe("closed");
    const h = await d.health();
    expect(h.status).toBe("unhealthy");

    await server.start();
    let value: string | undefined;
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      value = await d.get("k").then(text, () => undefined);
      if (value !== undefined) break;
      await Bun.sleep(200);
    }
    expect(value).toBe("before");
    await d.set("k", utf8("after"), 0);
    expect(text(await d.get("k"))).toBe("after");
    expect((await d.health()).status).toBe("healthy");
  }, 60_000);
});
