/**
 * One SDK surface (issue 19 item 1): in any pattern folder (a new one too) and in the proxy, a deep import of an SDK
 * module fails Biome's lint, which `make check` runs, while the entry `@prism/sdk` passes; tests may reach inside.
 * And no product file outside the SDK, the transport (h2/), the clients and the tools imports an SDK module deeply today.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const ROOT = join(import.meta.dir, "../..");
const BIOME = join(ROOT, "node_modules/.bin/biome");
const folder = `zz-entry-${process.pid}`;
afterAll(() => rmSync(join(ROOT, folder), { recursive: true, force: true }));

function lint(files: string[]): { code: number; out: string } {
  const r = Bun.spawnSync([BIOME, "lint", "--colors=off", ...files], { cwd: ROOT });
  return { code: r.exitCode, out: r.stdout.toString() + r.stderr.toString() };
}

describe("the SDK's entry is the only way in", () => {
  mkdirSync(join(ROOT, folder), { recursive: true });
  const write = (name: string, text: string) => {
    writeFileSync(join(ROOT, folder, name), text);
    return `${folder}/${name}`;
  };

  test("a deep import in a new pattern folder fails, naming the rule", () => {
    const r = lint([write("deep.ts", 'import { Code } from "../sdk/errors";\nexport const c = Code.OK;\n')]);
    expect(r.code).not.toBe(0);
    expect(r.out).toContain("noRestrictedImports");
  });

  test("the entry passes", () => {
    expect(lint([write("entry.ts", 'import { Code } from "@prism/sdk";\nexport const c = Code.OK;\n')]).code).toBe(0);
  });

  test("a test file may reach inside", () => {
    expect(lint([write("deep.test.ts", 'import { Code } from "../sdk/errors";\nexport const c = Code.OK;\n')]).code).toBe(0);
  });

  test("the proxy and every pattern folder lint clean", () => {
    const r = lint(["proxy", "memstore", "redis", "kafka", "nats", "postgres", "multicast-registry", "templates"]);
    expect(r.out).not.toContain("noRestrictedImports");
  });
});
