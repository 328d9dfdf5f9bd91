/**
 * Patterns reachable only by the proxy (issue 11), tried as a hostile local
 * process would: the control plane and the pattern's data socket sit in a 0700
 * directory; a registration without the launch secret is refused and audited;
 * Drain and Stop on a launched pattern's own socket are refused and its keys
 * survive; the launch secret is not on its command line. A pattern run on its own
 * refuses Drain/Stop without its admin credential, and the proxy notices a remote
 * pattern that stopped serving.
 */
import { afterAll, describe, expect, test, setDefaultTimeout } from "bun:test";
import { readFileSync, statSync } from "node:fs";
import { dirname } from "node:path";
import { KeyValueBasicInterface } from "../../proto/gen/prism/interfaces/keyvalue/keyvalue_basic_pb";
import { LifecycleInterface } from "../../proto/gen/prism/interfaces/lifecycle_pb";
import { ProxyControlPlane } from "../../proto/gen/prism/interfaces/proxy_control_plane_pb";
import { createClient } from "../../sdk/grpc/client";
import { Code } from "../../sdk/grpc/errors";
import { startPattern, type StartedPattern } from "../helpers/process";
import { clientsFor, eventually, startProxy, text, utf8, type StartedProxy } from "../proxy/harness";
import { codeOf } from "./clients";

// Processes start and stop here; a loaded 2-core machine can take seconds for that.
setDefaultTimeout(30_000);

const stops: (() => unknown)[] = [];
afterAll(async () => {
  for (const s of stops.reverse()) await s();
});

function argvOf(pid: number): string[] {
  return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
}

describe("a launched pattern", () => {
  let proxy: StartedProxy;

  test("its sockets live in a 0700 directory; the launch secret is not on its command line", async () => {
    proxy = await startProxy("namespaces: [{ name: default, pattern: memstore }]\n");
    stops.push(
      () => proxy.cleanup(),
      () => proxy.stop(),
    );
    const p = await proxy.pattern("default");
    const argv = argvOf(p.pid!);
    const cp = argv[argv.indexOf("--proxy-addr") + 1]!;
    expect(cp).toMatch(/^unix:\/.*\/control\.sock$/);
    expect(p.endpoint).toMatch(/^unix:\//);
    const dir = dirname(cp.slice("unix:".length));
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    expect(dirname(p.endpoint!.slice("unix:".length))).toBe(dir);
    expect(argv.join(" ")).not.toMatch(/token|[A-Za-z0-9_-]{43}/);
  });

  test("registering as a pattern without its launch secret is refused and audited", async () => {
    const p = await proxy.pattern("default");
    const cp = argvOf(p.pid!)[argvOf(p.pid!).indexOf("--proxy-addr") + 1]!;
    const h = createClient(ProxyControlPlane, cp);
    stops.push(() => h.close());
    // The request side stays open until the answers end: the call ends only when the proxy ends it (else the
    // 5 s deadline fails the call).
    let done = () => {};
    const answered = new Promise<void>((r) => (done = r));
    async function* msgs() {
      yield { correlationId: "r", message: { case: "register" as const, value: { patternName: "memstore", patternVersion: "0", processId: p.pid! } } };
      await answered;
    }
    const answers = [];
    try {
      for await (const a of h.client.managePattern(msgs(), { metadata: { "x-prism-launch-token": "guess" }, timeoutMs: 5_000 })) answers.push(a);
    } finally {
      done();
    }
    expect(answers).toHaveLength(1);
    expect(answers[0]!.command).toMatchObject({ case: "registerAck", value: { success: false, error: "registration refused" } });
    await eventually(
      () => /"audit":"prism","decision":"deny","principal":"pid:\d+".*ManagePattern.*registration as memstore refused/.test(proxy.output()),
      "the audit line",
    );
    expect(proxy.output()).not.toContain('guess"');
  });

  test("Drain and Stop on its own socket are refused; the namespace keeps serving with its keys", async () => {
    const c = clientsFor(proxy.address);
    stops.push(() => c.close());
    await c.kv.set({ key: "kept", value: utf8("acknowledged") }, c.opts());
    const p = await proxy.pattern("default");
    const lc = createClient(LifecycleInterface, p.endpoint!);
    stops.push(() => lc.close());
    expect(await codeOf(() => lc.client.drain({ timeoutSeconds: 600 }))).toBe(Code.PERMISSION_DENIED);
    expect(await codeOf(() => lc.client.stop({ timeoutSeconds: 1 }, { metadata: { "x-prism-admin-token": "anything" } }))).toBe(Code.PERMISSION_DENIED);
    expect(await codeOf(() => lc.client.initialize({ name: "x", version: "1" }))).toBe(Code.PERMISSION_DENIED);
    expect((await lc.client.healthCheck({})).details.state).toBe("serving");
    expect(text((await c.kv.get({ key: "kept" }, c.opts())).value)).toBe("acknowledged");
    expect((await proxy.pattern("default")).pid).toBe(p.pid);
  });
});

describe("a pattern run on its own", () => {
  test("Drain and Stop need its admin credential; the proxy notices a drained remote pattern instead of showing it serving", async () => {
    const token = "standalone-admin-token-93af";
    const pat: StartedPattern = await startPattern("memstore", [], { PRISM_ADMIN_TOKEN: token });
    stops.push(() => pat.stop());
    const proxy = await startProxy(`namespaces: [{ name: r, address: "${pat.address}", settings: { health_interval: 200ms } }]\n`);
    stops.push(
      () => proxy.cleanup(),
      () => proxy.stop(),
    );
    await eventually(async () => (await proxy.pattern("r")).status === "serving", "remote serving");
    const lc = createClient(LifecycleInterface, pat.address);
    const kv = createClient(KeyValueBasicInterface, lc.raw);
    stops.push(() => lc.close());
    expect(await codeOf(() => lc.client.drain({ timeoutSeconds: 1 }))).toBe(Code.PERMISSION_DENIED);
    expect(await codeOf(() => lc.client.stop({ timeoutSeconds: 1 }, { metadata: { "x-prism-admin-token": "wrong" } }))).toBe(Code.PERMISSION_DENIED);
    expect(await codeOf(() => kv.client.set({ key: "k", value: utf8("v") }))).toBe(0);
    // Its operator drains it: the proxy stops showing it serving within a few health checks.
    expect((await lc.client.drain({ timeoutSeconds: 1 }, { metadata: { "x-prism-admin-token": token } })).success).toBe(true);
    await eventually(async () => (await proxy.pattern("r")).status !== "serving", "the proxy notices the drained pattern", 10_000);
    const c = clientsFor(proxy.address, "r");
    stops.push(() => c.close());
    expect(await codeOf(() => c.kv.get({ key: "k" }, c.opts()))).toBe(Code.UNAVAILABLE);
    expect(pat.output()).not.toContain(token);
  });
});
