import { describe, expect, test } from "bun:test";
import { Code, PrismError } from "../errors";
import { Resilience } from "./resilience";

const down = () => new Error("backend down");

function guard(overrides: Partial<ConstructorParameters<typeof Resilience>[0]> = {}) {
  return new Resilience({
    name: "test-backend",
    mapError: (err) => (err instanceof PrismError ? err : new PrismError(Code.UNAVAILABLE, (err as Error).message)),
    failureThreshold: 3,
    openDurationMs: 60_000,
    maxAttempts: 3,
    initialDelayMs: 1,
    maxDelayMs: 2,
    // "backend down" here means refused before sending: certainly not applied.
    notApplied: () => true,
    ...overrides,
  });
}

async function codeOf(p: Promise<unknown>): Promise<number | undefined> {
  try {
    await p;
    return undefined;
  } catch (err) {
    return PrismError.from(err).code;
  }
}

describe("Resilience", () => {
  test("errors come out mapped", async () => {
    expect(await codeOf(guard().write(() => Promise.reject(down())))).toBe(Code.UNAVAILABLE);
  });

  test("reads are retried on transient failures; writes are sent once", async () => {
    const g = guard();
    let reads = 0;
    const value = await g.read(async () => {
      if (++reads < 3) throw down();
      return "ok";
    });
    expect(value).toBe("ok");
    expect(reads).toBe(3);
    let writes = 0;
    expect(
      await codeOf(
        g.write(async () => {
          writes++;
          throw down();
        }),
      ),
    ).toBe(Code.UNAVAILABLE);
    expect(writes).toBe(1);
  });

  test("caller faults are not retried and do not open the breaker", async () => {
    const g = guard({ failureThreshold: 1 });
    let calls = 0;
    const bad = () => {
      calls++;
      return Promise.reject(new PrismError(Code.FAILED_PRECONDITION, "wrong type"));
    };
    expect(await codeOf(g.read(bad))).toBe(Code.FAILED_PRECONDITION);
    expect(calls).toBe(1);
    expect(g.breaker.state).toBe("closed");
  });

  test("once the breaker opens, calls fail UNAVAILABLE without reaching the backend or waiting out backoff", async () => {
    const g = guard({ failureThreshold: 3, initialDelayMs: 5_000, maxDelayMs: 5_000 });
    let calls = 0;
    const failing = () => {
      calls++;
      return Promise.reject(down());
    };
    for (let i = 0; i < 3; i++) expect(await codeOf(g.write(failing))).toBe(Code.UNAVAILABLE);
    expect(g.breaker.state).toBe("open");
    const before = calls;
    const started = performance.now();
    expect(await codeOf(g.read(failing))).toBe(Code.UNAVAILABLE);
    expect(performance.now() - started).toBeLessThan(100);
    expect(calls).toBe(before);
  });

  test("a read stops retrying when the breaker opens under it", async () => {
    const g = guard({ failureThreshold: 2, maxAttempts: 5 });
    let calls = 0;
    expect(
      await codeOf(
        g.read(() => {
          calls++;
          return Promise.reject(down());
        }),
      ),
    ).toBe(Code.UNAVAILABLE);
    expect(calls).toBe(2);
  });

  test("the breaker lets a probe through after its open duration and closes on success", async () => {
    let now = 0;
    const g = guard({ failureThreshold: 1, openDurationMs: 1_000, now: () => now });
    expect(await codeOf(g.write(() => Promise.reject(down())))).toBe(Code.UNAVAILABLE);
    expect(g.breaker.state).toBe("open");
    now = 1_000;
    expect(await g.read(async () => 7)).toBe(7);
    expect(g.breaker.state).toBe("closed");
  });

  test("a write sent without a reply is DEADLINE_EXCEEDED (no reply in time) or UNKNOWN (connection lost), saying the outcome is unknown", async () => {
    const g = guard({ failureThreshold: 100, notApplied: (err) => (err as Error).message === "refused" });
    const timedOut = await g.write(() => Promise.reject(new Error("Command timed out"))).catch((e) => e as PrismError);
    expect(timedOut.code).toBe(Code.DEADLINE_EXCEEDED);
    expect(timedOut.message).toContain("outcome is unknown");
    const lost = await g.write(() => Promise.reject(new Error("connection reset"))).catch((e) => e as PrismError);
    expect(lost.code).toBe(Code.UNKNOWN);
    expect(lost.message).toContain("outcome is unknown");
    expect(await codeOf(g.write(() => Promise.reject(new Error("refused"))))).toBe(Code.UNAVAILABLE);
    // The backend's own answer is kept as it is.
    expect(await codeOf(g.write(() => Promise.reject(new PrismError(Code.FAILED_PRECONDITION, "wrong type"))))).toBe(Code.FAILED_PRECONDITION);
  });

  test("a hung backend costs a call at most timeoutMs; a hung read is not retried", async () => {
    const g = guard({ timeoutMs: 100, failureThreshold: 100 });
    let reads = 0;
    const hang = () => new Promise<never>(() => undefined);
    let t0 = performance.now();
    const w = await g.write(hang).catch((e) => e as PrismError);
    expect(performance.now() - t0).toBeLessThan(1_000);
    expect(w.code).toBe(Code.DEADLINE_EXCEEDED);
    expect(w.message).toContain("outcome is unknown");
    t0 = performance.now();
    const r = await g
      .read(() => {
        reads++;
        return hang();
      })
      .catch((e) => e as PrismError);
    expect(performance.now() - t0).toBeLessThan(1_000);
    expect(r.code).toBe(Code.UNAVAILABLE);
    expect(reads).toBe(1);
  });

  test("retries of a read stay within timeoutMs", async () => {
    const g = guard({ timeoutMs: 150, maxAttempts: 10, initialDelayMs: 60, maxDelayMs: 60, failureThreshold: 100 });
    const t0 = performance.now();
    expect(await codeOf(g.read(() => Bun.sleep(40).then(() => Promise.reject(down()))))).toBe(Code.UNAVAILABLE);
    expect(performance.now() - t0).toBeLessThan(1_000);
  });

  test("open: refused in well under 10 ms without a backend call; half-open: exactly one probe, the rest refused", async () => {
    let now = 0;
    const g = guard({ failureThreshold: 1, openDurationMs: 1_000, now: () => now });
    expect(await codeOf(g.write(() => Promise.reject(down())))).toBe(Code.UNAVAILABLE);
    let calls = 0;
    const t0 = performance.now();
    for (let i = 0; i < 1000; i++) expect(await codeOf(g.read(async () => ++calls))).toBe(Code.UNAVAILABLE);
    expect((performance.now() - t0) / 1000).toBeLessThan(10);
    expect(calls).toBe(0);
    now = 1_000;
    let release!: () => void;
    const probe = g.write(() => new Promise<number>((r) => (release = () => r(++calls))));
    const wave = await Promise.all(Array.from({ length: 50 }, () => codeOf(g.write(async () => ++calls))));
    expect(wave.every((c) => c === Code.UNAVAILABLE)).toBe(true);
    expect(calls).toBe(0);
    release();
    expect(await probe).toBe(1);
    expect(g.breaker.state).toBe("closed");
  });
});
