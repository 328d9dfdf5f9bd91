// Runs every test file of the repository as a few `bun test --coverage` processes side by side (make coverage),
// then merges their lcov reports into one for scripts/coverage_floor.ts.
//   bun scripts/test_parallel.ts [--jobs N] [--coverage-dir DIR] [--record] [path ...] [-- <bun test options, e.g. --timeout 30000>]
// (paths: only the test files under these folders or files; all of them without)
// Test files are grouped into units, each one bun test process running its files one after another; `--jobs` units
// run at a time, the longest first: by the seconds scripts/test_units.json recorded (--record rewrites it from this
// run), units it does not know first of all, by the test code they load. A black-box suite (a file under tests/) is a
// unit of its own; the unit tests of a top-level source folder are one unit. Suites share no fixed ports and use the
// shared backends under namespaces of their own, and outages are made on servers a test starts itself, so they can
// run side by side. Three groups stay serial, each one unit: the repository's own layout —
// tests/packaging/template.test.ts adds a pattern folder to the repository for a while, so every test that lists the
// patterns (names scripts/executables, or lives in scripts/ or tests/packaging) is one unit; tests/faults, whose
// recovery bounds are measured; and the Kafka suites (tests/kafka, and the suites run on its targets), which start
// JVM brokers of their own and wait a bounded time for consumer-group rebalances on the shared broker: side by side,
// a broker start held a reconnecting subscriber's rejoin past its 20 s wait.
// Each unit's output is printed whole when it ends, so its "N pass" / "N fail" lines stay one block each (.ci/run
// sums them). Exits 1 when any unit fails or ends without bun's summary.
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { parseArgs } from "node:util";

export const ROOT = join(import.meta.dir, "..");

/** The file names bun test picks up (bun's defaults: *.test.*, *_test.*, *.spec.*, *_spec.*). */
const TEST_FILE = /(\.|_)(test|spec)\.(ts|tsx|js|jsx|mjs|cjs)$/;
/** Folders bun test would also skip, and build output that holds no tests of ours. */
const SKIPPED = /(^|\/)(node_modules|dist|coverage|\.[^/]+)(\/|$)/;

/** Every test file bun test would run from the root, relative to it, sorted. */
export function testFiles(root = ROOT): string[] {
  const files: string[] = [];
  for (const f of new Bun.Glob("**/*").scanSync({ cwd: root, onlyFiles: true })) if (TEST_FILE.test(f) && !SKIPPED.test(f)) files.push(f);
  return files.sort();
}

/** The unit of the tests that read the repository's list of patterns (see the top of this file). */
export const LAYOUT_UNIT = "tests/packaging";

/** Folders of tests/ whose files run one after another in one unit. */
export const SERIAL_FOLDERS = [LAYOUT_UNIT, "tests/faults", "tests/kafka"];
/** A suite run on the Kafka test targets or brokers (or the queue suite's Kafka backend) joins tests/kafka's unit. */
const KAFKA_TARGETS = /from ["'](\.\.\/kafka\/(target|broker)|\.\/kafka_backend)["']/;

/** The unit a test file runs in. */
export function unitOf(file: string, source: string): string {
  if (file.startsWith("scripts/") || /scripts\/executables|from ["']\.\/executables["']/.test(source)) return LAYOUT_UNIT;
  const parts = file.split("/");
  if (parts[0] === "tests" && parts.length > 2) {
    const folder = `tests/${parts[1]}`;
    if (SERIAL_FOLDERS.includes(folder)) return folder;
    return KAFKA_TARGETS.test(source) ? "tests/kafka" : file;
  }
  return parts.length > 1 ? parts[0]! : ".";
}

/**
 * Bytes of test code a file runs: itself and the test-only modules it imports (files under tests/, followed
 * through their own imports) — a one-line acceptance file runs a whole suite.
 */
export function testCodeBytes(file: string, read: (file: string) => string, size: (file: string) => number): number {
  const seen = new Set<string>();
  const visit = (f: string) => {
    if (seen.has(f)) return;
    seen.add(f);
    for (const m of read(f).matchAll(/from\s+["'](\.{1,2}\/[^"']+)["']/g)) {
      const target = join(dirname(f), m[1]!).replace(/\.ts$/, "");
      const candidate = `${target}.ts`;
      if (!candidate.startsWith("tests/") || seen.has(candidate)) continue;
      try {
        read(candidate);
      } catch {
        continue;
      }
      visit(candidate);
    }
  };
  visit(file);
  let bytes = 0;
  for (const f of seen) bytes += size(f);
  return bytes;
}

export interface Unit {
  name: string;
  files: string[];
  /** Bytes of test code: the order of units no run has timed yet. */
  bytes: number;
}

/** Seconds each unit took in the run that was recorded (--record). */
export const TIMINGS_FILE = join(ROOT, "scripts/test_units.json");

/** Test files grouped into units; untimed units first (largest first), then the timed ones, longest first. */
export function units(files: string[], read: (file: string) => string, size: (file: string) => number, seconds: Record<string, number> = {}): Unit[] {
  const byName = new Map<string, Unit>();
  for (const f of files) {
    const name = unitOf(f, read(f));
    const u = byName.get(name) ?? { name, files: [], bytes: 0 };
    u.files.push(f);
    u.bytes += testCodeBytes(f, read, size);
    byName.set(name, u);
  }
  const time = (u: Unit) => seconds[u.name] ?? Number.POSITIVE_INFINITY;
  return [...byName.values()].sort((a, b) => time(b) - time(a) || b.bytes - a.bytes || a.name.localeCompare(b.name));
}

interface Coverage {
  lines: Map<number, number>;
  functionsFound: number;
  functionsHit: number;
}

/** Merges lcov reports of the same sources: hits per line summed; LF/LH recounted from the merged lines. */
export function mergeLcov(reports: string[]): string {
  const files = new Map<string, Coverage>();
  for (const report of reports) {
    let cur: Coverage | undefined;
    for (const line of report.split("\n")) {
      if (line.startsWith("SF:")) {
        const sf = line.slice(3);
        cur = files.get(sf) ?? { lines: new Map(), functionsFound: 0, functionsHit: 0 };
        files.set(sf, cur);
        continue;
      }
      if (!cur) continue;
      if (line.startsWith("DA:")) {
        const [n, hits] = line.slice(3).split(",").map(Number) as [number, number];
        cur.lines.set(n, (cur.lines.get(n) ?? 0) + hits);
      } else if (line.startsWith("FNF:")) cur.functionsFound = Math.max(cur.functionsFound, Number(line.slice(4)));
      else if (line.startsWith("FNH:")) cur.functionsHit = Math.max(cur.functionsHit, Number(line.slice(4)));
      else if (line === "end_of_record") cur = undefined;
    }
  }
  const out: string[] = [];
  for (const [sf, c] of [...files].sort(([a], [b]) => a.localeCompare(b))) {
    const lines = [...c.lines].sort(([a], [b]) => a - b);
    out.push("TN:", `SF:${sf}`, `FNF:${c.functionsFound}`, `FNH:${c.functionsHit}`);
    for (const [n, hits] of lines) out.push(`DA:${n},${hits}`);
    out.push(`LF:${lines.length}`, `LH:${lines.filter(([, h]) => h > 0).length}`, "end_of_record");
  }
  return out.length === 0 ? "" : `${out.join("\n")}\n`;
}

interface Outcome {
  unit: Unit;
  ok: boolean;
  seconds: number;
  output: string;
}

/**
 * What a failed unit printed about its failures: each `(fail)` line with the lines bun printed before it (the
 * error and its source excerpt), or the unit's last lines when it ended without any. Printed again after the
 * summary, because CI shows only the tail of a long log.
 */
export function failureExcerpt(output: string, before = 25, maxLines = 150): string {
  const lines = output.split("\n");
  const picked: string[] = [];
  let from = 0;
  for (let i = 0; i < lines.length && picked.length < maxLines; i++) {
    if (!/^\(fail\) /.test(lines[i]!)) continue;
    const start = Math.max(from, i - before);
    if (start > from && picked.length > 0) picked.push("…");
    picked.push(...lines.slice(start, i + 1));
    from = i + 1;
  }
  if (picked.length === 0) return lines.slice(-40).join("\n").trimEnd();
  return picked.slice(0, maxLines).join("\n");
}

/**
 * One line per failed test: its name, then the error bun printed for it (and Expected / Received when given),
 * cut to `width`. Printed last, so even a short tail of the CI log names every failure and why.
 */
export function failureDigest(output: string, width = 300): string[] {
  const lines = output.split("\n");
  const out: string[] = [];
  const seen = new Set<string>();
  let since = 0;
  for (let i = 0; i < lines.length; i++) {
    const m = /^\(fail\) (.*)$/.exec(lines[i]!);
    if (!m) continue;
    const block = lines.slice(since, i);
    since = i + 1;
    // bun lists the failed tests again after its summary: the first line of each, with its error, is kept.
    if (seen.has(m[1]!)) continue;
    seen.add(m[1]!);
    const error = block.findLast((l) => /^(error|\w*Error)\b.*:/.test(l.trim()))?.trim() ?? "";
    const detail = block.filter((l) => /^(Expected|Received)\b/.test(l.trim())).map((l) => l.trim());
    const why = [error, ...detail].filter(Boolean).join(" · ");
    out.push(`  ✗ ${m[1]}${why ? ` — ${why}` : ""}`.slice(0, width));
  }
  if (out.length === 0) out.push(`  ✗ no (fail) line; the unit's last line: ${lines.findLast((l) => l.trim() !== "")?.trim() ?? "(nothing)"}`.slice(0, width));
  return out;
}

async function runUnit(unit: Unit, index: number, coverageDir: string, bunArgs: string[], t0: number): Promise<Outcome> {
  const dir = join(coverageDir, "units", String(index));
  const started = performance.now();
  const cmd = [process.execPath, "test", ...bunArgs, "--coverage", "--coverage-reporter=lcov", `--coverage-dir=${dir}`, ...unit.files.map((f) => `./${f}`)];
  const p = Bun.spawn(cmd, { cwd: ROOT, stdout: "pipe", stderr: "pipe", stdin: "ignore" });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  const seconds = (performance.now() - started) / 1000;
  const output = out + err;
  const summarised = /^ *\d+ pass$/m.test(output) && /^ *\d+ fail$/m.test(output);
  const from = (started - t0) / 1000;
  process.stdout.write(
    `\n=== ${unit.name} (${unit.files.length} files, ran from ${from.toFixed(0)} s to ${(from + seconds).toFixed(0)} s, exit ${code})\n${output}`,
  );
  if (!summarised) process.stdout.write(`=== ${unit.name}: ended without bun's pass/fail summary\n`);
  return { unit, ok: code === 0 && summarised, seconds, output };
}

/** Runs units `jobs` at a time, each next one taken by whichever worker frees first. */
export async function runPool<T, R>(items: T[], jobs: number, run: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await run(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(jobs, items.length)) }, worker));
  return results;
}

if (import.meta.main) {
  const dash = process.argv.indexOf("--");
  const own = dash < 0 ? process.argv.slice(2) : process.argv.slice(2, dash);
  const bunArgs = dash < 0 ? [] : process.argv.slice(dash + 1);
  const { values, positionals } = parseArgs({
    args: own,
    allowPositionals: true,
    options: { jobs: { type: "string", default: "2" }, "coverage-dir": { type: "string", default: "coverage" }, record: { type: "boolean", default: false } },
  });
  const jobs = Number(values.jobs);
  const coverageDir = resolve(ROOT, values["coverage-dir"]!);
  rmSync(join(coverageDir, "units"), { recursive: true, force: true });
  mkdirSync(coverageDir, { recursive: true });
  const wanted = positionals.map((p) => p.replace(/^\.\//, "").replace(/\/$/, ""));
  const all = units(
    testFiles().filter((f) => wanted.length === 0 || wanted.some((w) => f === w || f.startsWith(`${w}/`))),
    (f) => readFileSync(join(ROOT, f), "utf8"),
    (f) => statSync(join(ROOT, f)).size,
    existsSync(TIMINGS_FILE) ? (JSON.parse(readFileSync(TIMINGS_FILE, "utf8")) as Record<string, number>) : {},
  );
  console.log(`test_parallel: ${all.reduce((n, u) => n + u.files.length, 0)} test files in ${all.length} units, ${jobs} at a time`);
  const t0 = performance.now();
  const outcomes = await runPool(all, jobs, (u, i) => runUnit(u, i, coverageDir, bunArgs, t0));
  const reports: string[] = [];
  for (let i = 0; i < all.length; i++) {
    try {
      reports.push(readFileSync(join(coverageDir, "units", String(i), "lcov.info"), "utf8"));
    } catch {
      // a unit that loaded no source file writes no report
    }
  }
  writeFileSync(join(coverageDir, "lcov.info"), mergeLcov(reports));
  const failed = outcomes.filter((o) => !o.ok);
  console.log(`\ntest_parallel: units by time (wall ${((performance.now() - t0) / 1000).toFixed(0)} s, ${jobs} at a time):`);
  for (const o of outcomes.toSorted((a, b) => b.seconds - a.seconds))
    console.log(`  ${o.seconds.toFixed(0).padStart(5)} s  ${o.ok ? "ok  " : "FAIL"}  ${o.unit.name}`);
  if (values.record) {
    const timed = Object.fromEntries(outcomes.map((o) => [o.unit.name, Math.round(o.seconds)]).sort(([a], [b]) => String(a).localeCompare(String(b))));
    writeFileSync(TIMINGS_FILE, `${JSON.stringify(timed, null, 2)}\n`);
  }
  console.log(`test_parallel: coverage of ${reports.length} units merged into ${relative(ROOT, join(coverageDir, "lcov.info"))}`);
  if (failed.length > 0) {
    for (const o of failed) console.log(`\n=== failures of ${o.unit.name}:\n${failureExcerpt(o.output)}`);
    console.log("\ntest_parallel: every failed test, and why:");
    for (const o of failed) console.log(`${o.unit.name}:\n${failureDigest(o.output).join("\n")}`);
    console.log(`test_parallel: failed units: ${failed.map((o) => o.unit.name).join(", ")}`);
    process.exit(1);
  }
}
