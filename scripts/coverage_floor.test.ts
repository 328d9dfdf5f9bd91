import { expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { percent, perFolder, sourceFolders } from "./coverage_floor";

const lcov = (files: Array<[string, number, number]>) => files.map(([f, lf, lh]) => `TN:\nSF:${f}\nLF:${lf}\nLH:${lh}\nend_of_record`).join("\n");

test("lines are summed per source folder; tests, test support, generated code and tests/ are not counted", () => {
  const m = perFolder(
    lcov([
      ["sdk/a.ts", 10, 9],
      ["sdk/b/c.ts", 10, 7],
      ["sdk/a.test.ts", 50, 50],
      ["sdk/concurrency/test_support.ts", 5, 0],
      ["proto/gen/x_pb.ts", 100, 0],
      ["tests/helpers/services.ts", 100, 0],
      ["proxy/router.ts", 4, 1],
    ]),
  );
  expect(Object.fromEntries(m)).toEqual({ sdk: { found: 20, hit: 16 }, proxy: { found: 4, hit: 1 } });
  expect(percent(m.get("sdk")!)).toBe(80);
});

test("the script exits 1 under a floor and names the folder; 0 at or above", async () => {
  const dir = mkdtempSync(join(tmpdir(), "cov-"));
  const run = async (files: Array<[string, number, number]>) => {
    writeFileSync(join(dir, "lcov.info"), lcov(files));
    const p = Bun.spawn([process.execPath, join(import.meta.dir, "coverage_floor.ts"), join(dir, "lcov.info")], { stdout: "pipe" });
    return { code: await p.exited, out: await new Response(p.stdout).text() };
  };
  const full = (n: number): Array<[string, number, number]> => ["h2", "memstore", "proxy", "sdk"].map((f) => [`${f}/x.ts`, 100, n]);
  expect((await run(full(100))).code).toBe(0);
  const under = await run([...full(100).filter(([f]) => !f.startsWith("sdk")), ["sdk/x.ts", 100, 50]]);
  expect(under.code).toBe(1);
  expect(under.out).toContain("sdk 50.0% <");
});

test("a pattern's folder is measured once its pattern.json exists, with no edit to this script", () => {
  const root = mkdtempSync(join(tmpdir(), "cov-root-"));
  mkdirSync(join(root, "newpattern"));
  const row = [["newpattern/main.ts", 10, 5]] as Array<[string, number, number]>;
  expect(perFolder(lcov(row), sourceFolders(root)).size).toBe(0);
  const manifest = { name: "newpattern", description: "a new pattern", entry: "main.ts", image: "prism/newpattern", clientLibraries: [] };
  writeFileSync(join(root, "newpattern/pattern.json"), JSON.stringify(manifest));
  expect(sourceFolders(root)).toContain("newpattern");
  expect(Object.fromEntries(perFolder(lcov(row), sourceFolders(root)))).toEqual({ newpattern: { found: 10, hit: 5 } });
  rmSync(root, { recursive: true, force: true });
});
