// Finds measured figures typed by hand into Markdown: a number with a unit of time, size, rate or share
// ("44 ms", "0.157 ms", "115 MB", "1,101 calls/s", "0.84 %") outside the blocks a measuring run writes
// (<!-- name:begin --> ... <!-- name:end -->). Ports, versions, counts and RFC numbers carry no such unit and
// are never flagged; configuration defaults that do ("default 30 s") are allowed one by one in docs_figures_allow.json.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface Figure {
  file: string;
  line: number;
  /** The figure as written, e.g. "44 ms". */
  text: string;
  /** The line it sits on, trimmed. */
  context: string;
}

/** An allowed figure: a configuration default or limit, named by file, exact figure and a phrase of its line. */
export interface AllowedFigure {
  file: string;
  figure: string;
  /** A piece of the line that pins the figure to its sentence (so a second, measured "30 s" is not allowed). */
  near: string;
  why: string;
}

const UNIT = String.raw`(?:(?:ns|µs|us|ms)\/(?:op|call)|ns|µs|us|ms|s|sec|seconds?|min|minutes?|h|KB|KiB|MB|MiB|GB|GiB|%|(?:ops|req|calls|records|msgs?|messages|writes|keys)\/s|\/s)`;
// A number (1,348 / 0.157 / 10⁶ / ≈2 / ~115) and its unit, not inside a word or an identifier.
const FIGURE = new RegExp(String.raw`(?<![\w.\-/:])[≈~]?\d[\d,]*(?:\.\d+)?\s?${UNIT}(?![\w/])`, "g");
// A table column whose header names a unit of measure ("p50 ms", "calls/s", "CPU µs/call", "file MB"): its bare numbers are figures too.
const UNIT_HEADER = /(?:^|[\s(])(?:ns|µs|us|ms|KB|KiB|MB|MiB|GB|GiB|%|[\w.]*\/s|µs\/call)(?:$|[\s),])/;
const NUMBER_CELL = /^[+\-≈~]?\d[\d,]*(?:\.\d+)?(?:\s*\/\s*[+-]?\d[\d,]*(?:\.\d+)?)*(?:\s*\(.*\))?$/;
const BLOCK_BEGIN = /<!--\s*([\w-]+):begin\s*-->/;
const BLOCK_END = /<!--\s*([\w-]+):end\s*-->/;

/** Files a measuring run writes as a whole: bench/run.ts writes bench/results/latest.md, bench/compare.ts bench/results/compare-*.md. */
export const GENERATED_FILES = new Set(["bench/results/latest.md"]);
export const GENERATED_FOLDERS = ["bench/results/"];

/**
 * The figures of one Markdown text that sit outside generated blocks, fenced code and inline code
 * (code holds flags and config such as `--duration 5s`, `sweep_interval: 1s`, not measurements).
 */
export function findFigures(file: string, markdown: string): Figure[] {
  if (GENERATED_FILES.has(file) || GENERATED_FOLDERS.some((f) => file.startsWith(f))) return [];
  const found: Figure[] = [];
  let block: string | undefined;
  let fenced = false;
  let unitColumns: boolean[] | undefined;
  const cells = (row: string) =>
    row
      .trim()
      .replace(/^\||\|$/g, "")
      .split("|")
      .map((c) => c.trim());
  const lines = markdown.split("\n");
  lines.forEach((raw, i) => {
    if (block) {
      if (BLOCK_END.exec(raw)?.[1] === block) block = undefined;
      return;
    }
    const begin = BLOCK_BEGIN.exec(raw);
    if (begin) {
      block = begin[1];
      return;
    }
    if (/^\s*(```|~~~)/.test(raw)) {
      fenced = !fenced;
      return;
    }
    if (fenced) return;
    if (raw.trim().startsWith("|")) {
      const next = lines[i + 1]?.trim() ?? "";
      if (unitColumns === undefined && /^\|[\s:|-]+\|?$/.test(next)) unitColumns = cells(raw).map((h) => UNIT_HEADER.test(h));
      else if (!/^\|[\s:|-]+\|?$/.test(raw.trim()))
        cells(raw).forEach((c, col) => {
          if (unitColumns?.[col] && NUMBER_CELL.test(c)) found.push({ file, line: i + 1, text: c, context: raw.trim() });
        });
    } else unitColumns = undefined;
    const prose = raw.replace(/`[^`]*`/g, (code) => " ".repeat(code.length));
    for (const m of prose.matchAll(FIGURE)) found.push({ file, line: i + 1, text: m[0], context: raw.trim() });
  });
  return found;
}

/** A line of hand-typed figures that predates the check (scripts/docs_figures_legacy.json): frozen, only shrinks. */
export interface LegacyLine {
  file: string;
  line: string;
  figures: string[];
}

/** Files whose old lab notes may still hold legacy figures; everywhere else the list must not reach. */
export const LEGACY_FILES = new Set(["bench/README.md"]);

export function isLegacy(f: Figure, legacy: readonly LegacyLine[]): boolean {
  return legacy.some((l) => l.file === f.file && l.line === f.context && l.figures.includes(f.text));
}

/** Drops the figures the allow-list names (file, figure and a phrase of the same line). */
export function withoutAllowed(figures: readonly Figure[], allowed: readonly AllowedFigure[]): Figure[] {
  return figures.filter((f) => !allowed.some((a) => a.file === f.file && a.figure === f.text && f.context.includes(a.near)));
}

/** Every Markdown file git knows (tracked, or new and not ignored), relative to the repository. */
export function markdownFiles(root: string): string[] {
  const out = Bun.spawnSync(["git", "ls-files", "--cached", "--others", "--exclude-standard", "--", "*.md"], { cwd: root });
  if (out.exitCode !== 0) throw new Error(`git ls-files failed: ${out.stderr.toString()}`);
  return out.stdout
    .toString()
    .split("\n")
    .filter((f) => f !== "" && !f.includes("node_modules/"));
}

export function loadAllowList(root: string): AllowedFigure[] {
  return JSON.parse(readFileSync(join(root, "scripts/docs_figures_allow.json"), "utf8")).allowed as AllowedFigure[];
}

export function loadLegacy(root: string): LegacyLine[] {
  return JSON.parse(readFileSync(join(root, "scripts/docs_figures_legacy.json"), "utf8")).legacy as LegacyLine[];
}

/** Every figure outside generated blocks in the repository's Markdown, before any list is applied. */
export function allFigures(root: string): Figure[] {
  return markdownFiles(root).flatMap((file) => {
    let text: string;
    try {
      text = readFileSync(join(root, file), "utf8");
    } catch {
      return []; // listed by git but deleted in the worktree
    }
    return findFigures(file, text);
  });
}

/** The hand-typed figures of the repository's Markdown that neither list accounts for. */
export function strayFigures(root: string): Figure[] {
  const legacy = loadLegacy(root);
  return withoutAllowed(allFigures(root), loadAllowList(root)).filter((f) => !isLegacy(f, legacy));
}

/** The legacy list without the entries (and figures) that no longer match: it can only shrink. */
export function prunedLegacy(root: string): LegacyLine[] {
  const found = allFigures(root);
  return loadLegacy(root)
    .map((l) => ({ ...l, figures: l.figures.filter((text) => found.some((f) => f.file === l.file && f.context === l.line && f.text === text)) }))
    .filter((l) => l.figures.length > 0);
}

if (import.meta.main && process.argv.includes("--prune-legacy")) {
  const file = join(import.meta.dir, "docs_figures_legacy.json");
  const doc = JSON.parse(readFileSync(file, "utf8"));
  const before = (doc.legacy as LegacyLine[]).length;
  doc.legacy = prunedLegacy(join(import.meta.dir, ".."));
  writeFileSync(file, `${JSON.stringify(doc, null, 1)}\n`);
  console.log(`legacy lines: ${before} -> ${doc.legacy.length}`);
  process.exit(0);
}

if (import.meta.main) {
  const stray = strayFigures(join(import.meta.dir, ".."));
  for (const f of stray) console.log(`${f.file}:${f.line}: ${f.text}    ${f.context.slice(0, 140)}`);
  console.log(`${stray.length} hand-typed figures outside generated blocks`);
  process.exit(stray.length === 0 ? 0 : 1);
}
