import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { markdownFiles } from "../../scripts/docs_figures";
import { ROOT } from "../helpers/process";

// Moving text between README.md and docs/ must not leave a link behind: every relative link of the repository's
// Markdown names a file that exists, and a #fragment into a Markdown file names one of its headings.

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens. */
export function anchorOf(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, "")
    .replace(/\s/g, "-");
}

function anchors(markdown: string): Set<string> {
  const out = new Set<string>();
  let fenced = false;
  for (const line of markdown.split("\n")) {
    if (/^\s*```/.test(line)) fenced = !fenced;
    const m = !fenced && /^#{1,6}\s+(.*)$/.exec(line);
    if (m) out.add(anchorOf(m[1]!));
  }
  return out;
}

function links(markdown: string): string[] {
  const prose = markdown.replace(/^```[\s\S]*?^```$/gm, "").replace(/`[^`\n]*`/g, "");
  return [...prose.matchAll(/\]\(([^)\s]+)\)/g)].map((m) => m[1]!).filter((l) => !/^[a-z]+:/.test(l));
}

describe("links in Markdown", () => {
  test("headings become the anchors GitHub makes", () => {
    expect(anchorOf("KeyValuePattern: one key-value service that says what it can do")).toBe("keyvaluepattern-one-key-value-service-that-says-what-it-can-do");
    expect(anchorOf("PostgreSQL and NATS KV through the proxy")).toBe("postgresql-and-nats-kv-through-the-proxy");
  });

  test("every relative link names an existing file, and an existing heading", () => {
    const broken: string[] = [];
    for (const file of markdownFiles(ROOT)) {
      if (!existsSync(join(ROOT, file))) continue;
      const text = readFileSync(join(ROOT, file), "utf8");
      for (const link of links(text)) {
        const [path, fragment] = link.split("#") as [string, string | undefined];
        const target = path === "" ? join(ROOT, file) : join(ROOT, dirname(file), decodeURI(path));
        if (!existsSync(target)) broken.push(`${file}: ${link} (no such file)`);
        else if (fragment && target.endsWith(".md") && !anchors(readFileSync(target, "utf8")).has(fragment)) broken.push(`${file}: ${link} (no such heading)`);
      }
    }
    expect(broken).toEqual([]);
  });
});
