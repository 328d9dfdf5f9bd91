import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Report } from "../../loadtest/report";
import { ROOT, startPattern, startProcess, type StartedPattern, type StartedProcess } from "../helpers/process";

// Black-box: dist/prism-load against dist/memstore, the proxy and the bare echo server.

const PRISM_LOAD = `${ROOT}/dist/prism-load`;
const dir = mkdtempSync(join(tmpdir(), "prism-load-test-"));
let memstore: StartedPattern;
let echo: StartedProcess;
let echoAddress = "";
let proxy: StartedProcess | undefined;
let proxyAddress = "";

async function run(args: string[]): Promise<{ code: number; report?: Report; stdout: string; stderr: string }> {
  const json = join(dir, `r${Math.random().toString(36).slice(2)}.json`);
  const p = Bun.spawn([PRISM_LOAD, ...args, "--json", json], { stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  const timer = setTimeout(() => p.kill("SIGKILL"), 60_000);
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  clearTimeout(timer);
  return { code, stdout, stderr, report: existsSync(json) ? (JSON.parse(readFileSync(json, "utf8")) as Report) : undefined };
}

beforeAll(async () => {
  if (!existsSync(PRISM_LOAD)) throw new Error("dist/prism-load is missing: run make build-plugins");
  memstore = await startPattern("memstore");
  echo = startProcess([`${ROOT}/node_modules/.bin/bun`, `${ROOT}/bench/echo_server.ts`]);
  echoAddress = (await echo.waitFor(/echo grpc listening on (\S+)/))[1]!;
  if (existsSync(`${ROOT}/dist/proxy`)) {
    proxy = startProcess([`${ROOT}/dist/proxy`, "--config", `${ROOT}/bench/configs/proxy-memstore.yaml`]);
    proxyAddress = (await proxy.waitFor(/prism proxy listening on (\S+)/, 20_000))[1]!;
  }
});

afterAll(async () => {
  await proxy?.stop();
  await echo?.stop();
  await memstore?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("prism-load", () => {
  test.each(["get", "set", "mixed"])("%s against the memstore pattern: a text report, a JSON report, exit 0", async (operation) => {
    const { code, report, stdout } = await run([
      "--direct",
      memstore.address,
      "--operation",
      operation,
      "--requests",
      "500",
      "--warmup",
      "200ms",
      "--concurrency",
      "8",
    ]);
    expect(code).toBe(0);
    expect(stdout).toContain(`prism-load ${operation} → ${memstore.address} (direct)`);
    expect(stdout).toMatch(/p50 [\d.]+ {2}p90 [\d.]+ {2}p99 [\d.]+ {2}p99\.9 [\d.]+ {2}max/);
    expect(report).toMatchObject({ tool: "prism-load", operation, via: "direct", ok: 500, errors: {}, mode: "closed-loop" });
    expect(report!.latencyMs.p99).toBeGreaterThan(0);
    expect(report!.latencyMs.p99).toBeGreaterThanOrEqual(report!.latencyMs.p50);
  });

  test("open loop at a rate: paced sends, latency from the scheduled time", async () => {
    const { code, report } = await run(["--direct", memstore.address, "--rps", "400", "--duration", "1s", "--warmup", "0s"]);
    expect(code).toBe(0);
    expect(report!.mode).toBe("open-loop");
    expect(report!.ok + report!.unsent).toBeGreaterThanOrEqual(395);
    expect(report!.durationS).toBeGreaterThanOrEqual(0.99);
    expect(report!.sendLagMs).not.toBeNull();
  });

  test("subscribe measures publish → receive through the memstore's pub/sub", async () => {
    const { code, report, stdout } = await run([
      "--direct",
      memstore.address,
      "--operation",
      "subscribe",
      "--requests",
      "300",
      "--warmup",
      "0s",
      "--topic",
      "bb-test",
    ]);
    expect(stdout).toContain("published 300, received 300, lost 0");
    expect(code).toBe(0);
    expect(report).toMatchObject({ operation: "subscribe", published: 300, ok: 300, lost: 0 });
  });

  test("errors are counted by gRPC code: the echo server has no PubSub (UNIMPLEMENTED), and nothing succeeding exits 1", async () => {
    const { code, report, stdout } = await run(["--direct", echoAddress, "--operation", "publish", "--requests", "50", "--warmup", "0s"]);
    expect(code).toBe(1);
    expect(report).toMatchObject({ ok: 0, errors: { UNIMPLEMENTED: 50 } });
    expect(stdout).toContain("error UNIMPLEMENTED: 50");
  });

  test("the proxy: Get and subscribe through it, and an unknown namespace counted as NOT_FOUND", async () => {
    expect(proxy).toBeDefined();
    const ok = await run(["--proxy", proxyAddress, "--requests", "300", "--warmup", "0s"]);
    expect(ok.report).toMatchObject({ via: "proxy", ok: 300, errors: {} });
    const sub = await run(["--proxy", proxyAddress, "--operation", "subscribe", "--requests", "200", "--warmup", "0s", "--topic", "via-proxy"]);
    expect(sub.report).toMatchObject({ via: "proxy", published: 200, ok: 200, lost: 0 });
    const bad = await run(["--proxy", proxyAddress, "--namespace", "no-such-namespace", "--operation", "set", "--requests", "20", "--warmup", "0s"]);
    expect(bad.code).toBe(1);
    expect(bad.report).toMatchObject({ ok: 0, errors: { NOT_FOUND: 20 }, namespace: "no-such-namespace" });
  }, 30_000);

  test("usage errors exit 2 with the usage; nothing listening exits 1 fast", async () => {
    const usage = await run(["--operation", "frob"]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain("--operation must be one of");
    const started = performance.now();
    const down = await run(["--direct", "127.0.0.1:1", "--requests", "1"]);
    expect(down.code).toBe(1);
    expect(down.stderr).toContain("cannot connect to 127.0.0.1:1");
    expect(performance.now() - started).toBeLessThan(10_000);
  });
});
