/**
 * A remote pattern served by grpc-go (tests/interop/go-pattern, built here with `go build`): the proxy's health
 * Watch must neither take the only stream of a pattern that allows one per connection (SETTINGS
 * MAX_CONCURRENT_STREAMS 1), nor stay open after GOAWAY, which would keep grpc-go's GracefulStop waiting forever.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT, startProcess, type StartedProcess } from "../helpers/process";
import { clientsFor, eventually, startProxy, type StartedProxy, text } from "./harness";

const dir = mkdtempSync(join(tmpdir(), "prism-go-pattern-"));
const exe = join(dir, "go-pattern");
const cleanups: (() => unknown)[] = [];

beforeAll(() => {
  // Cached by Go's build cache after the first run; modules pinned by go.mod / go.sum.
  const built = Bun.spawnSync(["go", "build", "-o", exe, "."], { cwd: `${ROOT}/tests/interop/go-pattern`, stdout: "pipe", stderr: "pipe" });
  if (built.exitCode !== 0) throw new Error(`go build failed: ${built.stderr.toString()}`);
}, 300_000);

afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
  rmSync(dir, { recursive: true, force: true });
});

async function goPattern(args: string[] = []): Promise<{ p: StartedProcess; address: string }> {
  const p = startProcess([exe, ...args]);
  cleanups.push(() => p.stop(1_000));
  const m = await p.waitFor(/listening on (\S+)/, 10_000);
  return { p, address: m[1]! };
}

async function proxyTo(address: string): Promise<StartedProxy> {
  const proxy = await startProxy(`
namespaces:
  - name: go
    address: ${address}
`);
  cleanups.push(
    () => proxy.cleanup(),
    () => proxy.stop(),
  );
  await eventually(async () => (await proxy.pattern("go")).status === "serving", "the grpc-go pattern serves", 10_000);
  return proxy;
}

describe("a grpc-go remote pattern", () => {
  test("with MAX_CONCURRENT_STREAMS 1, data calls are answered while the proxy watches its health", async () => {
    const { p, address } = await goPattern(["-max-streams", "1"]);
    const proxy = await proxyTo(address);
    await p.waitFor(/health watch opened/);
    const c = clientsFor(proxy.address, "go");
    cleanups.push(() => c.close());
    for (const key of ["a", "b", "c"]) expect(text((await c.kv.get({ key }, c.opts({ timeoutMs: 5_000 }))).value)).toBe(key);
  }, 30_000);

  test("GracefulStop completes: the proxy ends its Watch on GOAWAY, and a call in flight still finishes", async () => {
    const { p, address } = await goPattern();
    const proxy = await proxyTo(address);
    await p.waitFor(/health watch opened/);
    const c = clientsFor(proxy.address, "go");
    cleanups.push(() => c.close());
    const slow = c.kv.get({ key: "slow" }, c.opts({ timeoutMs: 10_000 }));
    await p.waitFor(/slow get started/);
    process.kill(p.pid, "SIGTERM");
    expect(text((await slow).value)).toBe("slow");
    await p.waitFor(/^stopped$/m, 5_000);
    expect(await p.exited).toBe(0);
  }, 30_000);
});
