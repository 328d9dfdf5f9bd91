import { afterAll, describe, expect, test } from "bun:test";
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import type { BuildRecord } from "../../scripts/build";
import { executables } from "../../scripts/executables";
import { ROOT, startProcess } from "../helpers/process";
import { clientsFor, eventually, killIfAlive, startProxy, text, utf8 } from "../proxy/harness";

// A new pattern needs no edit outside its folder: templates/pattern is copied as it is into a new top-level
// folder, the build finds it by its pattern.json and builds it (that executable only), and dist/proxy
// launches it for a namespace naming it and forwards a call to it. Nothing outside the folder changes.

const FOLDER = `zz-template-${randomBytes(4).toString("hex")}`;
const DIR = join(ROOT, FOLDER);
const OUT = mkdtempSync(join(tmpdir(), "prism-template-"));

/** git status lines of the worktree (what a change outside the new folder would show up in). */
const gitStatus = () =>
  Bun.spawnSync(["git", "status", "--porcelain", "--untracked-files=all"], { cwd: ROOT })
    .stdout.toString()
    .split("\n")
    .filter((l) => l !== "");

afterAll(() => {
  rmSync(DIR, { recursive: true, force: true });
  rmSync(OUT, { recursive: true, force: true });
});

describe("a pattern made from templates/pattern", () => {
  const before = gitStatus();
  let name = "";

  test("is one of the build's executables once copied, from its pattern.json alone", () => {
    expect(existsSync(DIR)).toBe(false);
    expect(executables().some((e) => e.folder === FOLDER)).toBe(false);
    cpSync(join(ROOT, "templates/pattern"), DIR, { recursive: true });
    const found = executables().find((e) => e.folder === FOLDER);
    expect(found).toMatchObject({ entry: `${FOLDER}/main.ts`, clientLibraries: [] });
    name = found!.name;
  });

  test("builds with the build script, by its name", async () => {
    expect(name).not.toBe("");
    const p = startProcess([process.execPath, "scripts/build.ts", "--outdir", OUT, name]);
    expect(await p.exited).toBe(0);
    expect(p.output()).toContain(`built ${OUT}/${name}`);
    const meta = JSON.parse(readFileSync(`${OUT}/${name}.meta.json`, "utf8")) as BuildRecord;
    expect(meta.entry).toBe(`${FOLDER}/main.ts`);
    // The copy's own files, and the SDK through its entry.
    const inputs = Object.keys(meta.inputs);
    expect(inputs).toContain(`${FOLDER}/driver.ts`);
    expect(inputs).toContain("sdk/index.ts");
  }, 120_000);

  test("answers a call through dist/proxy, which launches it for a namespace naming it", async () => {
    expect(existsSync(`${OUT}/${name}`)).toBe(true);
    const config = join(OUT, "proxy.yaml");
    writeFileSync(config, `namespaces:\n  - name: from-template\n    pattern: ${name}\n`);
    const proxy = await startProxy(readFileSync(config, "utf8"), ["--patterns-dir", OUT]);
    let pid: number | null = null;
    try {
      await eventually(async () => (await proxy.pattern("from-template")).ready, "the template's pattern is ready", 30_000);
      const snapshot = await proxy.pattern("from-template");
      pid = snapshot.pid;
      expect(snapshot).toMatchObject({ pattern: name, mode: "launched", metadata: { name: "example" } });
      const c = clientsFor(proxy.address, "from-template");
      try {
        expect((await c.kv.set({ key: "hello", value: utf8("from the template") }, c.opts())).success).toBe(true);
        const got = await c.kv.get({ key: "hello" }, c.opts());
        expect(got.found).toBe(true);
        expect(text(got.value)).toBe("from the template");
      } finally {
        c.close();
      }
      expect(await proxy.stop()).toBe(0);
    } finally {
      await proxy.stop();
      killIfAlive([pid]);
      proxy.cleanup();
    }
  }, 60_000);

  test("changed nothing outside its folder", () => {
    const added = gitStatus().filter((l) => !before.includes(l));
    const copied = readdirSync(join(ROOT, "templates/pattern")).map((f) => `?? ${FOLDER}/${f}`);
    expect(added.toSorted()).toEqual(copied.toSorted());
  });
});
