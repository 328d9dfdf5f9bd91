/**
 * What a pattern run on its own binds (issue 18, items 10 and 15): gRPC and the metrics endpoints listen on
 * loopback unless PRISM_GRPC_HOST / PRISM_METRICS_HOST say otherwise, and the banner prints what is bound.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { onFreePort } from "../helpers/ports";
import { startPattern, type StartedPattern } from "../helpers/process";

/** IPv4 addresses with a listening TCP socket on `port`, from /proc/net/tcp (what the kernel says is bound). */
function listeningOn(port: number): string[] {
  const hexPort = port.toString(16).toUpperCase().padStart(4, "0");
  return readFileSync("/proc/net/tcp", "utf8")
    .split("\n")
    .slice(1)
    .map((line) => line.trim().split(/\s+/))
    .filter((f) => f[3] === "0A" && f[1]?.endsWith(`:${hexPort}`))
    .map((f) => {
      const hex = f[1]!.split(":")[0]!;
      return [3, 2, 1, 0].map((i) => Number.parseInt(hex.slice(i * 2, i * 2 + 2), 16)).join(".");
    });
}

/** Starts memstore with its metrics on a port found free just before (another if a test beside this one takes it). */
function startWithMetricsPort(env?: Record<string, string>): Promise<{ pattern: StartedPattern; metricsPort: number }> {
  return onFreePort(async (metricsPort) => ({ pattern: await startPattern("memstore", ["--metrics-port", String(metricsPort)], env), metricsPort }));
}

let p: StartedPattern | undefined;
afterEach(async () => {
  await p?.stop();
  p = undefined;
});

describe("a standalone memstore", () => {
  test("binds gRPC and metrics to 127.0.0.1 by default, and its banner says so", async () => {
    const started = await startWithMetricsPort();
    p = started.pattern;
    const metricsPort = started.metricsPort;
    const port = Number(p.address.split(":").pop());
    expect(p.address).toBe(`127.0.0.1:${port}`);
    expect(listeningOn(port)).toEqual(["127.0.0.1"]);
    expect(listeningOn(metricsPort)).toEqual(["127.0.0.1"]);
  });

  test("binds where PRISM_GRPC_HOST and PRISM_METRICS_HOST say, and its banner says that", async () => {
    const started = await startWithMetricsPort({ PRISM_GRPC_HOST: "0.0.0.0", PRISM_METRICS_HOST: "0.0.0.0" });
    p = started.pattern;
    const metricsPort = started.metricsPort;
    const port = Number(p.address.split(":").pop());
    expect(p.address).toBe(`0.0.0.0:${port}`);
    expect(listeningOn(port)).toEqual(["0.0.0.0"]);
    expect(listeningOn(metricsPort)).toEqual(["0.0.0.0"]);
  });
});
