/** dist/prismctl against a running dist/proxy: kv set/get/del/scan, health, patterns, namespaces, errors and exit codes. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { ROOT } from "../helpers/process";
import { killIfAlive, requireBuilt, startProxy, type StartedProxy } from "./harness";

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

describe("prismctl", () => {
  let proxy: StartedProxy;
  let ctl: (...args: string[]) => Promise<Result>;
  beforeAll(async () => {
    requireBuilt("prismctl");
    proxy = await startProxy(`
namespaces:
  - name: default
    pattern: memstore
  - name: cache
    pattern: memstore
    config: { max_keys: 77 }
`);
    ctl = async (...args) => {
      const p = Bun.spawn([`${ROOT}/dist/prismctl`, "--addr", proxy.address, "--admin", proxy.admin, ...args], { stdout: "pipe", stderr: "pipe" });
      const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
      return { code, stdout, stderr };
    };
  }, 30_000);
  afterAll(async () => {
    const pids = (await proxy?.patterns().catch(() => []))?.map((p) => p.pid) ?? [];
    await proxy?.stop();
    proxy?.cleanup();
    killIfAlive(pids);
  });

  test("kv set, get, scan, del", async () => {
    expect(await ctl("kv", "set", "greeting", "hello world")).toEqual({ code: 0, stdout: "OK\n", stderr: "" });
    expect(await ctl("kv", "get", "greeting")).toEqual({ code: 0, stdout: "hello world\n", stderr: "" });
    await ctl("kv", "set", "fruit/apple", "red");
    await ctl("kv", "set", "fruit/banana", "yellow");
    expect((await ctl("kv", "scan", "fruit/")).stdout).toBe("fruit/apple\tred\nfruit/banana\tyellow\n");
    expect((await ctl("kv", "scan", "fruit/", "--keys-only", "--limit", "1")).stdout).toBe("fruit/apple\n");
    expect(await ctl("kv", "del", "greeting")).toEqual({ code: 0, stdout: "deleted\n", stderr: "" });
    const missing = await ctl("kv", "get", "greeting");
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe("(not found) greeting\n");
  }, 20_000);

  test("--namespace reaches a separate namespace", async () => {
    await ctl("--namespace", "cache", "kv", "set", "only-in-cache", "1");
    expect((await ctl("-n", "cache", "kv", "get", "only-in-cache")).stdout).toBe("1\n");
    expect((await ctl("kv", "get", "only-in-cache")).code).toBe(1);
  }, 20_000);

  test("health shows proxy, namespace and pattern health with details", async () => {
    const r = await ctl("-n", "cache", "health");
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`proxy ${proxy.address}: SERVING`);
    expect(r.stdout).toContain("namespace cache: SERVING");
    expect(r.stdout).toMatch(/pattern: HEALTHY .*max_keys=77/);
    const j = JSON.parse((await ctl("health", "--json")).stdout);
    expect(j.pattern.status).toBe("HEALTHY");
  }, 20_000);

  test("patterns lists namespaces with pattern, status and pid", async () => {
    const r = await ctl("patterns");
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split("\n");
    expect(lines[0]).toMatch(/^NAMESPACE\s+PATTERN\s+STATUS\s+PID\s+ENDPOINT\s+RESTARTS\s+HEALTH\s+DETAILS$/);
    const pids = (await proxy.patterns()).map((p) => p.pid);
    expect(lines[1]).toMatch(new RegExp(`^default\\s+memstore\\s+serving\\s+${pids[0]}\\s`));
    expect(lines[2]).toMatch(/^cache\s+memstore\s+serving\s+\d+\s.*max_keys=77/);
    expect(JSON.parse((await ctl("patterns", "--json")).stdout)).toHaveLength(2);
  }, 20_000);

  test("kv exists, ttl and expire (KeyValuePattern)", async () => {
    await ctl("kv", "set", "short-lived", "v", "--ttl", "100");
    expect(await ctl("kv", "exists", "short-lived")).toEqual({ code: 0, stdout: "true\n", stderr: "" });
    expect((await ctl("kv", "ttl", "short-lived")).stdout).toMatch(/^(9\d|100)s\n$/);
    expect(await ctl("kv", "expire", "short-lived", "0")).toEqual({ code: 0, stdout: "OK\n", stderr: "" });
    expect((await ctl("kv", "ttl", "short-lived")).stdout).toBe("none\n");
    expect((await ctl("kv", "ttl", "never-set")).code).toBe(1);
    expect((await ctl("kv", "expire", "never-set", "5")).code).toBe(1);
    expect((await ctl("kv", "exists", "never-set")).stdout).toBe("false\n");
  });

  test("caps prints the namespace's capabilities as a table", async () => {
    const r = await ctl("-n", "cache", "caps");
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      [
        "namespace cache: backend memstore",
        "OPERATION                           INTERFACE       SUPPORT",
        "store / retrieve / delete / exists  keyvalue_basic  native",
        "scan                                keyvalue_scan   native",
        "store / retrieve / delete batch     keyvalue_batch  native",
        "set / get expiration                keyvalue_ttl    native",
        "transactions                        -               unavailable",
        "limits: key 4 KiB, value 8 MiB per message, 4 GiB streamed (chunked), batch 10000 entries",
        "",
      ].join("\n"),
    );
    // One object per pattern the namespace serves (prismctl on @prism/client covers every pattern).
    expect(JSON.parse((await ctl("caps", "--json")).stdout)).toMatchObject({ keyValue: { supportsScan: true, slots: { primaryBackendType: "memstore" } } });
  });

  test("errors name the gRPC code and exit non-zero", async () => {
    const ns = await ctl("-n", "nope", "kv", "get", "x");
    expect(ns.code).toBe(1);
    expect(ns.stderr).toBe('prismctl: NOT_FOUND: namespace "nope" is not configured\n');
    const bad = await ctl("kv", "set", "", "v");
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/^prismctl: INVALID_ARGUMENT: /);
    const down = Bun.spawnSync([`${ROOT}/dist/prismctl`, "--addr", "127.0.0.1:1", "--timeout", "2s", "kv", "get", "x"]);
    expect(down.exitCode).toBe(1);
    expect(down.stderr.toString()).toMatch(/^prismctl: UNAVAILABLE: /);
    const usage = await ctl("kv", "frob");
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain("Usage: prismctl");
  }, 20_000);
});
