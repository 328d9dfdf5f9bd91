/**
 * dist/prismctl (on @prism/client) against dist/proxy with a key-value and a presence namespace: every pattern's
 * commands, caps per pattern, --json, PRISM_* variables, exit codes, and the generated shell completion.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT } from "../helpers/process";
import { waitFor } from "../helpers/wait";
import { requireBuilt } from "../proxy/harness";
import { type RunningProxy, runPrismctl, startProxy } from "./proxy";

let proxy: RunningProxy;
const run = crypto.randomUUID().slice(0, 8);

/** Runs dist/prismctl with the given environment (only PATH and these: no PRISM_* from the test's own). */
const ctlEnv = (env: Record<string, string>, ...args: string[]) => runPrismctl(args, env);
const ctl = (...args: string[]) => ctlEnv({}, "--addr", proxy.address, "--admin", proxy.admin, ...args);

beforeAll(async () => {
  requireBuilt("prismctl", "proxy");
  proxy = await startProxy();
}, 90_000);
afterAll(async () => {
  await proxy?.close();
});

describe("prismctl covers every pattern", () => {
  test("kv with --json on every command", async () => {
    const k = `ctl-${run}`;
    const set = JSON.parse((await ctl("-n", "kv", "--json", "kv", "set", k, "v1")).stdout);
    expect(set.key).toBe(k);
    expect(set.version).not.toBe("");
    expect(JSON.parse((await ctl("-n", "kv", "--json", "kv", "get", k)).stdout)).toEqual({ key: k, found: true, value: "v1", version: set.version });
    expect(JSON.parse((await ctl("-n", "kv", "--json", "kv", "exists", k)).stdout)).toEqual({ key: k, exists: true });
    expect(JSON.parse((await ctl("-n", "kv", "--json", "kv", "count", `ctl-${run}`)).stdout)).toEqual({ prefix: `ctl-${run}`, count: 1 });
    expect(JSON.parse((await ctl("-n", "kv", "--json", "kv", "scan", `ctl-${run}`)).stdout)).toEqual({ key: k, value: "v1" });
    const missing = await ctl("-n", "kv", "--json", "kv", "get", `${k}-missing`);
    expect([missing.code, JSON.parse(missing.stdout)]).toEqual([1, { key: `${k}-missing`, found: false }]);
  });

  test("PRISM_ADDR, PRISM_NAMESPACE and PRISM_JSON stand in for the flags", async () => {
    const env = { PRISM_ADDR: proxy.address, PRISM_NAMESPACE: "kv", PRISM_JSON: "1" };
    await ctlEnv(env, "kv", "set", `env-${run}`, "e");
    expect(JSON.parse((await ctlEnv(env, "kv", "get", `env-${run}`)).stdout).value).toBe("e");
    // A flag wins over its variable.
    expect((await ctlEnv(env, "-n", "presence", "kv", "get", `env-${run}`)).code).toBe(3);
  });

  test("caps for every pattern: the multicast registry's table, and one JSON object per pattern", async () => {
    const r = await ctl("-n", "presence", "caps");
    expect(r.code).toBe(0);
    expect(r.stdout).toStartWith("namespace presence: multicast registry, registry memstore, messaging memstore\nOPERATION");
    expect(r.stdout).toMatch(/\nsubscribe +native\n/);
    expect(r.stdout).not.toContain("\x1b[");
    const j = JSON.parse((await ctl("-n", "presence", "caps", "--json")).stdout);
    expect(Object.keys(j)).toEqual(["multicast"]);
    expect(j.multicast.slots.registryBackendType).toBe("memstore");
  });

  test("a pattern the namespace does not serve: exit 3, before any data call", async () => {
    const r = await ctl("-n", "kv", "multicast", "enumerate");
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/^prismctl: UNIMPLEMENTED: prism\.patterns\.multicast_registry\.MulticastRegistryPattern not served by namespace kv/);
  });

  test("multicast register, enumerate with a filter, send, subscribe, unregister", async () => {
    const room = `room-${run}`;
    expect((await ctl("-n", "presence", "multicast", "register", `ann-${run}`, `room=${room}`, "load=3", "--ttl", "60")).stdout).toBe("registered\n");
    await ctl("-n", "presence", "multicast", "register", `bo-${run}`, `room=${room}`, "load=9");
    const listed = await ctl("-n", "presence", "multicast", "enumerate", `room=${room}`, "load<5");
    expect(listed.stdout.split("\n")[0]).toMatch(/^IDENTITY\s+SUBSCRIBED\s+EXPIRES\s+METADATA$/);
    expect(listed.stdout).toContain(`ann-${run}`);
    expect(listed.stdout).not.toContain(`bo-${run}`);
    const json = JSON.parse((await ctl("-n", "presence", "--json", "multicast", "enumerate", `room=${room}`)).stdout);
    expect(json.map((i: { identity: string }) => i.identity).sort()).toEqual([`ann-${run}`, `bo-${run}`]);

    const sub = Bun.spawn([`${ROOT}/dist/prismctl`, "--addr", proxy.address, "-n", "presence", "multicast", "subscribe", `ann-${run}`, "--count", "1"], {
      stdout: "pipe",
      stderr: "pipe",
    });
    try {
      await waitFor(
        async () => JSON.parse((await ctl("-n", "presence", "--json", "multicast", "enumerate", `room=${room}`, "load<5")).stdout)[0]?.subscribed === true,
        "the subscriber is attached",
        { timeoutMs: 15_000, intervalMs: 100 },
      );
      const sent = await ctl("-n", "presence", "multicast", "send", "hello ann", `room=${room}`, "load<5");
      expect(sent).toMatchObject({ code: 0, stdout: "targets 1, delivered 1, failed 0\n" });
      expect([await sub.exited, await new Response(sub.stdout).text()]).toEqual([0, "hello ann\n"]);
    } finally {
      sub.kill();
    }
    expect((await ctl("-n", "presence", "multicast", "unregister", `bo-${run}`)).code).toBe(0);
    expect((await ctl("-n", "presence", "multicast", "unregister", `bo-${run}`)).code).toBe(1);
  }, 30_000);

  test("pubsub publish and subscribe --count", async () => {
    const topic = `t-${run}`;
    const sub = Bun.spawn([`${ROOT}/dist/prismctl`, "--addr", proxy.address, "-n", "kv", "--json", "pubsub", "subscribe", topic, "--count", "1"], {
      stdout: "pipe",
      stderr: "pipe",
    });
    try {
      // Publish until the subscriber has one (messages before it subscribed are not delivered).
      let out = "";
      const reading = new Response(sub.stdout).text().then((t) => (out = t));
      await waitFor(
        async () => {
          expect((await ctl("-n", "kv", "pubsub", "publish", topic, "ping")).code).toBe(0);
          return (await Promise.race([sub.exited, Bun.sleep(200).then(() => undefined)])) !== undefined;
        },
        "the subscriber got a message",
        { timeoutMs: 15_000, intervalMs: 0 },
      );
      await reading;
      expect(await sub.exited).toBe(0);
      expect(JSON.parse(out)).toMatchObject({ topic, payload: "ping" });
    } finally {
      sub.kill();
    }
  }, 30_000);

  test("usage errors exit 2; a TLS file that cannot be read is one", async () => {
    expect((await ctl("multicast", "frob")).code).toBe(2);
    const tls = await ctl("--tls-ca", "/nonexistent/ca.pem", "kv", "get", "x");
    expect(tls.code).toBe(2);
    expect(tls.stderr).toContain("--tls-ca: cannot read /nonexistent/ca.pem");
  });

  test("TLS towards a plaintext proxy fails as UNAVAILABLE (the flag is used, not ignored)", async () => {
    const r = await ctlEnv({ PRISM_TLS: "true" }, "--addr", proxy.address, "--timeout", "3s", "-n", "kv", "kv", "get", "x");
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^prismctl: UNAVAILABLE: /);
  });
});

describe("shell completion", () => {
  test("bash: the script parses, completes groups, verbs and flags from the command table", async () => {
    const dir = mkdtempSync(join(tmpdir(), "prismctl-completion-"));
    try {
      const script = (await ctlEnv({}, "completion", "bash")).stdout;
      writeFileSync(join(dir, "c.bash"), script);
      expect(Bun.spawnSync(["bash", "-n", join(dir, "c.bash")]).exitCode).toBe(0);
      const complete = (words: string[]) =>
        Bun.spawnSync([
          "bash",
          "-c",
          `source ${join(dir, "c.bash")}; COMP_WORDS=(${words.map((w) => `'${w}'`).join(" ")}); COMP_CWORD=${words.length - 1}; _prismctl; echo "\${COMPREPLY[*]}"`,
        ])
          .stdout.toString()
          .trim();
      expect(complete(["prismctl", ""]).split(" ")).toEqual([
        "kv",
        "pubsub",
        "multicast",
        "session",
        "queue",
        "cdc",
        "caps",
        "health",
        "patterns",
        "completion",
      ]);
      expect(complete(["prismctl", "-n", "presence", "multicast", "su"])).toBe("subscribe");
      expect(complete(["prismctl", "session", "t"])).toBe("touch");
      expect(complete(["prismctl", "queue", "r"])).toBe("redrive");
      expect(complete(["prismctl", "session", "update", "x", "--expect-v"])).toBe("--expect-version");
      expect(complete(["prismctl", "kv", "--keys"])).toBe("--keys-only");
      expect(complete(["prismctl", "queue", "publish", "--ke"]).split(" ").sort()).toEqual(["--key", "--keys-only"]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("zsh: the script parses (zsh -n where zsh is installed) and names every group and verb", async () => {
    const script = (await ctlEnv({}, "completion", "zsh")).stdout;
    expect(script).toStartWith("#compdef prismctl\n");
    for (const word of ["'kv:", "'multicast:", "'pubsub:", "'session:", "'touch:", "'register:", "'subscribe:", "'--namespace["])
      expect(script).toContain(word);
    if (Bun.which("zsh")) {
      const dir = mkdtempSync(join(tmpdir(), "prismctl-completion-"));
      try {
        writeFileSync(join(dir, "_prismctl"), script);
        expect(Bun.spawnSync(["zsh", "-n", join(dir, "_prismctl")]).exitCode).toBe(0);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  });
});
