import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { patternManifests } from "../scripts/executables";

const ROOT = join(import.meta.dir, "..");

/**
 * The pattern names a configuration may give: one per pattern manifest (what `make build-plugins` puts in dist/;
 * the launcher runs patterns_dir/<pattern>), and the template's, which the guide builds from a copy of it.
 */
function builtExecutables(): Set<string> {
  const names = new Set(patternManifests(ROOT).map(({ manifest }) => manifest.name));
  names.add((JSON.parse(readFileSync(join(ROOT, "templates/pattern/pattern.json"), "utf8")) as { name: string }).name);
  return names;
}

/**
 * Every `pattern: NAME` in the repository's configuration files and in the YAML blocks of its Markdown, with where
 * it is (prose that happens to say "pattern:" is not configuration).
 */
function patternExamples(): { where: string; name: string }[] {
  const files = Bun.spawnSync(["git", "ls-files", "*.md", "*.yaml", "*.yml"], { cwd: ROOT }).stdout.toString().split("\n").filter(Boolean);
  const found: { where: string; name: string }[] = [];
  for (const file of files) {
    const markdown = file.endsWith(".md");
    let inYaml = false;
    readFileSync(join(ROOT, file), "utf8")
      .split("\n")
      .forEach((line, i) => {
        const fence = /^\s*```\s*(\S*)/.exec(line);
        if (markdown && fence) {
          inYaml = !inYaml && (fence[1] === "yaml" || fence[1] === "yml");
          return;
        }
        if (markdown && !inYaml) return;
        // A YAML key is followed by a space: `prism-redis-pattern:50051` (a host:port) is not one.
        for (const m of line.matchAll(/(?:^|[\s{,-])pattern:\s+["']?([A-Za-z0-9_.-]+)/g)) found.push({ where: `${file}:${i + 1}`, name: m[1]! });
      });
  }
  return found;
}

describe("pattern names in examples", () => {
  test("every `pattern:` in a README or config file names an executable the build makes (issue 18, item 15)", () => {
    const built = builtExecutables();
    expect(built.has("memstore")).toBe(true);
    expect(built.has("multicast-registry")).toBe(true);
    const examples = patternExamples();
    expect(examples.length).toBeGreaterThan(5);
    const unknown = examples.filter((e) => !built.has(e.name)).map((e) => `${e.where}: ${e.name}`);
    expect(unknown).toEqual([]);
  });
});
