import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { refreshGuide } from "../../scripts/docs_guide";
import { ROOT } from "../helpers/process";

// The guide's code is the tested code: a block after <!-- file: PATH --> is that file whole, a block after
// <!-- excerpt: PATH --> a piece of it, so the guide cannot drift from templates/pattern (which
// tests/packaging/template.test.ts builds and calls through the proxy).

const GUIDE = "docs/writing-a-pattern.md";

/** Each marked code block: which file it claims, how, and its text. */
function markedBlocks(markdown: string): { kind: "file" | "excerpt"; path: string; code: string }[] {
  const out: { kind: "file" | "excerpt"; path: string; code: string }[] = [];
  const re = /<!-- (file|excerpt): (\S+) -->\n```[^\n]*\n([\s\S]*?)^```$/gm;
  for (const m of markdown.matchAll(re)) out.push({ kind: m[1] as "file" | "excerpt", path: m[2]!, code: m[3]! });
  return out;
}

describe(GUIDE, () => {
  const guide = readFileSync(join(ROOT, GUIDE), "utf8");
  const blocks = markedBlocks(guide);

  test("shows every source file of templates/pattern, and the one-slot example's pattern and driver, whole", () => {
    const shown = blocks.filter((b) => b.kind === "file").map((b) => b.path);
    const template = readdirSync(join(ROOT, "templates/pattern"))
      .filter((f) => f !== "README.md")
      .map((f) => `templates/pattern/${f}`);
    const oneSlot = ["docs/examples/one-slot/pattern.ts", "docs/examples/one-slot/store.ts"];
    expect(shown.toSorted()).toEqual([...template, ...oneSlot].toSorted());
  });

  test("is what scripts/docs_guide.ts makes of the files it shows (run it after editing them)", () => {
    expect(guide).toBe(refreshGuide(guide));
  });

  test("each file block is its file exactly", () => {
    for (const b of blocks.filter((x) => x.kind === "file"))
      expect({ path: b.path, code: b.code }).toEqual({ path: b.path, code: readFileSync(join(ROOT, b.path), "utf8") });
  });

  test("each excerpt is a piece of its file", () => {
    const excerpts = blocks.filter((x) => x.kind === "excerpt");
    expect(excerpts.length).toBeGreaterThan(0);
    for (const b of excerpts) expect(readFileSync(join(ROOT, b.path), "utf8")).toContain(b.code.trimEnd());
  });

  test("the template imports the SDK only through its entry, @prism/sdk", () => {
    for (const b of blocks.filter((x) => x.kind === "file" && x.path.endsWith(".ts") && !x.path.endsWith(".test.ts"))) {
      const imports = [...b.code.matchAll(/from "([^"]+)"/g)].map((m) => m[1]!);
      for (const spec of imports) expect(spec === "@prism/sdk" || spec.startsWith("./")).toBe(true);
    }
  });

  test("a changed file is caught: the matcher sees a block that differs", () => {
    const doctored = guide.replace("await serve(examplePattern);", "await serve(otherPattern);");
    const main = markedBlocks(doctored).find((b) => b.path === "templates/pattern/main.ts")!;
    expect(main.code).not.toBe(readFileSync(join(ROOT, "templates/pattern/main.ts"), "utf8"));
  });
});
