import { describe, expect, test } from "bun:test";
import { Registry } from "prom-client";
import { Code, PrismError } from "../errors";
import { DriverMetrics, instrumentDriver } from "./instrument";

/** Operation counts, error counts and duration-sample counts of one operation of driver "fake". */
async function figures(metrics: DriverMetrics, operation: string) {
  const ops = (await metrics.operations.get()).values.filter((v) => v.labels.operation === operation);
  const errs = (await metrics.errors.get()).values.filter((v) => v.labels.operation === operation);
  const hist = (await metrics.duration.get()).values.find(
    (v) => v.labels.operation === operation && v.metricName === "driver_operation_duration_seconds_count",
  );
  return {
    ok: ops.find((v) => v.labels.status === "success")?.value ?? 0,
    error: ops.find((v) => v.labels.status === "error")?.value ?? 0,
    errorTypes: Object.fromEntries(errs.map((v) => [v.labels.error_type, v.value])),
    observed: hist?.value ?? 0,
  };
}

/** A driver with one method of every shape the SDK's bindings call. */
class FakeDriver {
  cleanedUp = 0;
  async get(key: string): Promise<string> {
    if (key === "") throw new PrismError(Code.INVALID_ARGUMENT, "empty");
    return `v:${key}`;
  }
  exists(key: string): boolean {
    return key !== "";
  }
  batchGet(keys: string[]): string[] {
    return keys.map((k) => `v:${k}`);
  }
  async *read(opts: { n: number; failAt?: number; cancelAt?: number }): AsyncGenerator<number> {
    try {
      for (let i = 0; i < opts.n; i++) {
        if (i === opts.failAt) throw new PrismError(Code.UNAVAILABLE, "backend gone");
        if (i === opts.cancelAt) throw new DOMException("This operation was aborted", "AbortError");
        yield i;
      }
    } finally {
      this.cleanedUp++;
    }
  }
  *scan(opts: { n: number; failAt?: number }): Iterable<string> {
    try {
      for (let i = 0; i < opts.n; i++) {
        if (i === opts.failAt) throw new Error("scan broke");
        yield `k${i}`;
      }
    } finally {
      this.cleanedUp++;
    }
  }
}

const METHODS = ["get", "exists", "batchGet", "read", "scan"];

function setUp() {
  const metrics = new DriverMetrics(new Registry());
  const driver = new FakeDriver();
  return { metrics, driver, d: instrumentDriver(driver, METHODS, { driver: "fake", dbSystem: "fake", metrics }) };
}

describe("instrumentDriver", () => {
  test("promise and plain results are timed and counted per call; arrays stay arrays", async () => {
    const { metrics, d } = setUp();
    expect(await d.get("a")).toBe("v:a");
    await expect(d.get("")).rejects.toThrow("empty");
    expect(d.exists("a")).toBe(true);
    const values = d.batchGet(["a", "b"]);
    expect(Array.isArray(values)).toBe(true);
    expect(values).toEqual(["v:a", "v:b"]);
    expect(await figures(metrics, "get")).toEqual({ ok: 1, error: 1, errorTypes: { invalid_argument: 1 }, observed: 2 });
    expect(await figures(metrics, "batchGet")).toMatchObject({ ok: 1, observed: 1 });
  });

  test("an async stream is counted once when it ends, its duration observed once", async () => {
    const { metrics, d } = setUp();
    expect(await Array.fromAsync(d.read({ n: 3 }))).toEqual([0, 1, 2]);
    expect(await Array.fromAsync(d.read({ n: 0 }))).toEqual([]);
    expect(await figures(metrics, "read")).toEqual({ ok: 2, error: 0, errorTypes: {}, observed: 2 });
  });

  test("an async stream that fails counts an error with its type; one the caller cancels does not", async () => {
    const { metrics, d } = setUp();
    await expect(Array.fromAsync(d.read({ n: 3, failAt: 1 }))).rejects.toThrow("backend gone");
    await expect(Array.fromAsync(d.read({ n: 3, cancelAt: 2 }))).rejects.toThrow("aborted");
    expect(await figures(metrics, "read")).toEqual({ ok: 1, error: 1, errorTypes: { unavailable: 1 }, observed: 2 });
  });

  test("stopping an async stream early counts it as ok and runs the driver's clean-up", async () => {
    const { metrics, driver, d } = setUp();
    for await (const i of d.read({ n: 100 })) if (i === 1) break;
    expect(driver.cleanedUp).toBe(1);
    expect(await figures(metrics, "read")).toEqual({ ok: 1, error: 0, errorTypes: {}, observed: 1 });
  });

  test("an open stream is not counted yet; its duration is the time to its first item", async () => {
    const { metrics, d } = setUp();
    const it = d.read({ n: 5 })[Symbol.asyncIterator]();
    expect(await figures(metrics, "read")).toMatchObject({ ok: 0, observed: 0 });
    await it.next();
    await it.next();
    expect(await figures(metrics, "read")).toMatchObject({ ok: 0, observed: 1 });
    await it.return?.(undefined);
    expect(await figures(metrics, "read")).toMatchObject({ ok: 1, observed: 1 });
  });

  test("a sync stream (generator) stays synchronous: spread, for-of, early break, failure", async () => {
    const { metrics, driver, d } = setUp();
    expect([...d.scan({ n: 3 })]).toEqual(["k0", "k1", "k2"]);
    for (const k of d.scan({ n: 10 })) if (k === "k0") break;
    expect(driver.cleanedUp).toBe(2);
    expect(() => [...d.scan({ n: 3, failAt: 2 })]).toThrow("scan broke");
    // The binding reads every stream with for-await, which takes sync iterables too.
    expect(await Array.fromAsync(d.scan({ n: 2 }) as Iterable<string>)).toEqual(["k0", "k1"]);
    expect(await figures(metrics, "scan")).toEqual({ ok: 3, error: 1, errorTypes: { internal: 1 }, observed: 4 });
  });
});

describe("seed 004 metric names", () => {
  test("driver_operation_total says success or error; driver_error_total says the error class", async () => {
    const registry = new Registry();
    const metrics = new DriverMetrics(registry);
    const refused = Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:1"), { code: "ECONNREFUSED" });
    const driver = {
      n: 0,
      async get(key: string) {
        if (key === "refused") throw new PrismError(Code.UNAVAILABLE, "backend unavailable", { cause: refused });
        if (key === "slow") throw new PrismError(Code.DEADLINE_EXCEEDED, "deadline");
        return key;
      },
    };
    const d = instrumentDriver(driver, ["get"], { driver: "fake", dbSystem: "fake", metrics });
    await d.get("a");
    await expect(d.get("refused")).rejects.toThrow();
    await expect(d.get("slow")).rejects.toThrow();
    const text = await registry.metrics();
    expect(text).toContain('driver_operation_total{driver="fake",operation="get",status="success"} 1');
    expect(text).toContain('driver_operation_total{driver="fake",operation="get",status="error"} 2');
    expect(text).toContain('driver_error_total{driver="fake",operation="get",error_type="connection_refused"} 1');
    expect(text).toContain('driver_error_total{driver="fake",operation="get",error_type="timeout"} 1');
  });

  test("connections gauge and expiry counter are read from the driver at scrape time", async () => {
    const registry = new Registry();
    const metrics = new DriverMetrics(registry);
    const driver = {
      open: 2,
      expired: 5,
      connectionsActive() {
        return this.open;
      },
      expiredTotal() {
        return this.expired;
      },
    };
    instrumentDriver(driver, [], { driver: "fake", dbSystem: "fake", metrics });
    let text = await registry.metrics();
    expect(text).toContain('backend_driver_connections_active{driver="fake"} 2');
    expect(text).toContain("# TYPE backend_driver_expired_keys_total counter");
    expect(text).toContain('backend_driver_expired_keys_total{driver="fake"} 5');
    driver.open = 0;
    driver.expired = 8;
    text = await registry.metrics();
    expect(text).toContain('backend_driver_connections_active{driver="fake"} 0');
    expect(text).toContain('backend_driver_expired_keys_total{driver="fake"} 8');
    // A re-initialized driver counts from zero again: the exported counter never goes down.
    driver.expired = 1;
    expect(await registry.metrics()).toContain('backend_driver_expired_keys_total{driver="fake"} 9');
  });
});
