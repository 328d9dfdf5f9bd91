/**
 * Namespaces changed live (issue 24 item 4). Under load on an unchanged namespace and on one being changed:
 * an edit of the config file adds a namespace and changes another (its new instances start and are ready before
 * the old ones drain); a bad file is refused with its reason in the log and in /config, and the running
 * configuration stays; SIGHUP re-reads a file the watcher does not see (a symlink's target elsewhere, as a
 * Kubernetes ConfigMap mount) and removes a namespace. Through all of it the unchanged namespace sees no error
 * (its slowest call is printed), and every call on the changed one completes.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { codeName } from "../../sdk/errors";
import { Code, PrismError } from "../../sdk/grpc/errors";
import { waitFor } from "../helpers/wait";
import { clientsFor, killIfAlive, startProxy, utf8, type PatternSnapshot, type StartedProxy } from "./harness";

interface Change {
  origin: string;
  applied: boolean;
  error?: string;
  added: string[];
  changed: string[];
  removed: string[];
  unchanged: string[];
}

type Namespace = PatternSnapshot & { replicas: (PatternSnapshot & { replica: number })[] };

const SETTINGS = "settings: { health_interval: 500ms, drain_timeout: 5s, restart_initial_delay: 100ms, restart_max_delay: 1s }";

function config(namespaces: Record<string, string>): string {
  return `namespaces:\n${Object.entries(namespaces)
    .map(([name, body]) => `  - name: ${name}\n    ${body}\n    ${SETTINGS}\n`)
    .join("")}`;
}

const STEADY = "pattern: memstore";
const MOVING_V1 = "pattern: memstore\n    config: { max_keys: 1000 }";
const MOVING_V2 = "pattern: memstore\n    replicas: 2\n    config: { max_keys: 2000 }";

interface Load {
  ok: number;
  errors: { code: number; message: string }[];
  maxMs: number;
}

describe("namespaces changed while serving", () => {
  let proxy: StartedProxy;
  const pids = new Set<number>();
  const elsewhere = mkdtempSync(join(tmpdir(), "prism-live-config-"));

  async function changes(): Promise<Change[]> {
    return ((await (await fetch(`${proxy.admin}/config`)).json()) as { changes: Change[] }).changes;
  }
  async function namespaces(): Promise<Namespace[]> {
    const all = (await proxy.patterns()) as Namespace[];
    for (const n of all) for (const r of n.replicas) if (r.pid) pids.add(r.pid);
    return all;
  }
  /** Waits for the n-th change (1-based) and returns it. */
  async function change(n: number): Promise<Change> {
    return (await waitFor(async () => (await changes())[n - 1], `configuration change #${n}`, { timeoutMs: 20_000 }))!;
  }

  beforeAll(async () => {
    proxy = await startProxy(config({ steady: STEADY, moving: MOVING_V1 }));
  }, 30_000);
  afterAll(async () => {
    await namespaces().catch(() => undefined);
    await proxy?.stop();
    proxy?.cleanup();
    killIfAlive([...pids]);
    rmSync(elsewhere, { recursive: true, force: true });
  });

  test("add, change, refuse, remove: no error and no pause on the unchanged namespace, calls on the changed one complete", async () => {
    let running = true;
    const run = (ns: string, workers: number): { load: Load; done: Promise<void> } => {
      const load: Load = { ok: 0, errors: [], maxMs: 0 };
      const done = Promise.all(
        Array.from({ length: workers }, async (_, w) => {
          const c = clientsFor(proxy.address, ns);
          try {
            for (let i = 0; running; i++) {
              const t = performance.now();
              try {
                await c.kv.set({ key: `k-${w}-${i}`, value: utf8("v") }, c.opts({ timeoutMs: 10_000 }));
                load.ok++;
              } catch (err) {
                const e = PrismError.from(err);
                load.errors.push({ code: e.code, message: e.message });
                await Bun.sleep(10);
              }
              load.maxMs = Math.max(load.maxMs, performance.now() - t);
            }
          } finally {
            c.close();
          }
        }),
      ).then(() => undefined);
      return { load, done };
    };
    const steady = run("steady", 4);
    const moving = run("moving", 2);
    try {
      await waitFor(() => steady.load.ok > 300 && moving.load.ok > 100, "load is flowing", { timeoutMs: 20_000 });
      const baselineMax = steady.load.maxMs;
      const steadyPid = (await namespaces()).find((n) => n.namespace === "steady")!.pid;
      const movingPid = (await namespaces()).find((n) => n.namespace === "moving")!.pid;

      // 1. An edit of the file: `fresh` added, `moving` changed (two instances, another config).
      writeFileSync(proxy.file, config({ steady: STEADY, moving: MOVING_V2, fresh: STEADY }));
      const first = await change(1);
      expect(first).toMatchObject({ origin: "file change", applied: true, added: ["fresh"], changed: ["moving"], removed: [], unchanged: ["steady"] });
      let all = await namespaces();
      expect(all.map((n) => n.namespace).sort()).toEqual(["fresh", "moving", "steady"]);
      const movingNow = all.find((n) => n.namespace === "moving")!;
      expect(movingNow.replicas).toHaveLength(2);
      expect(movingNow.replicas.map((r) => r.pid)).not.toContain(movingPid);
      expect(all.find((n) => n.namespace === "steady")!.pid).toBe(steadyPid);
      const c = clientsFor(proxy.address, "fresh");
      await c.kv.set({ key: "a", value: utf8("1") }, c.opts());
      expect((await c.kv.get({ key: "a" }, c.opts())).found).toBe(true);
      c.close();
      // The old instance of `moving` drained and stopped.
      await waitFor(() => !pids.has(movingPid!) || !isAlive(movingPid!), "the old instance of moving exited", { timeoutMs: 15_000 });

      // 2. A bad file: refused whole with the reason (a missing executable, then an unknown key); nothing changes.
      writeFileSync(proxy.file, config({ steady: STEADY, moving: MOVING_V2, fresh: STEADY, bad: "pattern: no-such-pattern" }));
      const refused = await change(2);
      expect(refused.applied).toBe(false);
      expect(refused.error).toContain("namespaces[3].pattern");
      expect(refused.error).toContain("no pattern executable");
      writeFileSync(proxy.file, `${config({ steady: STEADY })}    colour: blue\n`);
      const refused2 = await change(3);
      expect(refused2.applied).toBe(false);
      expect(refused2.error).toContain("colour: unknown key");
      await waitFor(() => proxy.output().includes("configuration refused; the running one stays"), "the refusal is logged");
      all = await namespaces();
      expect(all.map((n) => n.namespace).sort()).toEqual(["fresh", "moving", "steady"]);

      // 3. A Kubernetes ConfigMap mount: proxy.yaml -> ..data/proxy.yaml, and an update swaps the ..data symlink.
      const dir = dirname(proxy.file);
      const swapData = (version: string, body: string) => {
        mkdirSync(join(dir, version));
        writeFileSync(join(dir, version, "proxy.yaml"), body);
        symlinkSync(version, join(dir, "..data_tmp"));
        renameSync(join(dir, "..data_tmp"), join(dir, "..data"));
      };
      swapData("..v1", config({ steady: STEADY, moving: MOVING_V2, fresh: STEADY }));
      symlinkSync("..data/proxy.yaml", `${proxy.file}.tmp`);
      renameSync(`${proxy.file}.tmp`, proxy.file);
      expect(await change(4)).toMatchObject({ origin: "file change", applied: true, added: [], changed: [], removed: [] });
      swapData("..v2", config({ steady: STEADY, moving: MOVING_V2, fresh: STEADY, extra: STEADY }));
      expect(await change(5)).toMatchObject({ origin: "file change", applied: true, added: ["extra"], changed: [], removed: [] });

      // 4. SIGHUP: the file becomes a symlink to a file in another directory (first with the running content:
      // the watcher sees the swap and finds nothing to do), whose edits only SIGHUP applies.
      const target = join(elsewhere, "proxy.yaml");
      // A comment makes the content differ, so the watcher reads it (and the test knows when it has).
      writeFileSync(target, `# moved\n${config({ steady: STEADY, moving: MOVING_V2, fresh: STEADY, extra: STEADY })}`);
      symlinkSync(target, `${proxy.file}.link`);
      renameSync(`${proxy.file}.link`, proxy.file);
      const swapped = await change(6);
      expect(swapped).toMatchObject({ applied: true, added: [], changed: [], removed: [] });
      writeFileSync(target, config({ steady: STEADY, moving: MOVING_V2 }));
      process.kill(proxy.pid, "SIGHUP");
      const hup = await change(7);
      expect(hup).toMatchObject({ origin: "SIGHUP", applied: true, added: [], changed: [], removed: ["fresh", "extra"] });
      const gone = clientsFor(proxy.address, "fresh");
      const err = await gone.kv.get({ key: "a" }, gone.opts()).catch((e) => PrismError.from(e));
      gone.close();
      expect((err as PrismError).code).toBe(Code.NOT_FOUND);
      expect((await changes()).length).toBe(7);

      // Both namespaces keep serving after it all.
      const okBefore = steady.load.ok;
      const movingBefore = moving.load.ok;
      await waitFor(() => steady.load.ok > okBefore + 100 && moving.load.ok > movingBefore + 50, "load still flowing", { timeoutMs: 20_000 });
      running = false;
      await Promise.all([steady.done, moving.done]);
      console.log(
        `unchanged namespace: ${steady.load.ok} calls, ${steady.load.errors.length} errors, slowest ${steady.load.maxMs.toFixed(0)} ms ` +
          `(slowest before any change ${baselineMax.toFixed(0)} ms); changed namespace: ${moving.load.ok} calls, ${moving.load.errors.length} errors, ` +
          `slowest ${moving.load.maxMs.toFixed(0)} ms`,
      );
      expect(steady.load.errors.map((e) => `${codeName(e.code)}: ${e.message}`)).toEqual([]);
      expect(moving.load.errors.map((e) => `${codeName(e.code)}: ${e.message}`)).toEqual([]);
    } finally {
      running = false;
      await Promise.all([steady.done, moving.done]);
    }
  }, 90_000);
});

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
