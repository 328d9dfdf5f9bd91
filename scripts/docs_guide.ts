// Refreshes the code blocks of docs/writing-a-pattern.md from the files they show: a block right after
// <!-- file: PATH --> is PATH whole. `bun scripts/docs_guide.ts` rewrites them; tests/docs/writing_a_pattern.test.ts
// fails when one differs, so the guide shows the code the tests build and run.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const ROOT = join(import.meta.dir, "..");
export const GUIDE = join(ROOT, "docs/writing-a-pattern.md");
const FILE_BLOCK = /(<!-- file: (\S+) -->\n```[^\n]*\n)[\s\S]*?^```$/gm;

/** The guide with each file block holding its file's current text. */
export function refreshGuide(markdown: string, read: (path: string) => string = (p) => readFileSync(join(ROOT, p), "utf8")): string {
  return markdown.replace(FILE_BLOCK, (_all, head: string, path: string) => `${head}${read(path)}\`\`\``);
}

if (import.meta.main) {
  writeFileSync(GUIDE, refreshGuide(readFileSync(GUIDE, "utf8")));
  console.log("wrote docs/writing-a-pattern.md");
}
