// Coverage floor (seed 002: tracked from day one, a floor that fails the build).
//   bun scripts/coverage_floor.ts [coverage/lcov.info] [--update]
// Reads the lcov report `bun test --coverage --coverage-reporter=lcov` wrote, sums lines found/hit per
// top-level source folder (sdk/, proxy/, memstore/, …), prints the table and exits 1 when a folder is under
// its floor in scripts/coverage_floor.json. --update raises floors to today's figures (rounded down to a
// whole percent), never lowers them. Bun counts only files some test loaded in-process; executables run
// as processes (dist/) are exercised by the black-box suites but not counted here. That is why only sdk/
// and proxy/ (libraries with in-process unit tests) have floors; the pattern folders are tested mostly
// through dist/ and their figures are printed for information.
import { readFileSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";

const ROOT = resolve(import.meta.dir, "..");
const FLOOR_FILE = `${ROOT}/scripts/coverage_floor.json`;
/** Folders measured: source only (no tests, benchmarks or generated code). */
const SOURCE = ["sdk", "proxy", "memstore", "redis", "kafka", "nats", "postgres", "multicast-registry", "prismctl", "loadtest"];

export interface FolderCoverage {
  found: number;
  hit: number;
}

/** Lines found and hit per top-level folder, from lcov text. */
export function perFolder(lcov: string): Map<string, FolderCoverage> {
  const out = new Map<string, FolderCoverage>();
  let folder: string | undefined;
  for (const line of lcov.split("\n")) {
    if (line.startsWith("SF:")) {
      const path = line.slice(3).replace(`${ROOT}/`, "");
      const top = path.split("/")[0]!;
      folder = SOURCE.includes(top) && !/\.test\.ts$|(^|\/)test_support\.ts$/.test(path) ? top : undefined;
    } else if (folder && line.startsWith("LF:")) {
      const c = out.get(folder) ?? { found: 0, hit: 0 };
      c.found += Number(line.slice(3));
      out.set(folder, c);
    } else if (folder && line.startsWith("LH:")) {
      out.get(folder)!.hit += Number(line.slice(3));
    }
  }
  return out;
}

export const percent = (c: FolderCoverage) => (c.found === 0 ? 100 : (100 * c.hit) / c.found);

if (import.meta.main) {
  const args = process.argv.slice(2);
  const file = args.find((a) => !a.startsWith("--")) ?? `${ROOT}/coverage/lcov.info`;
  const update = args.includes("--update");
  const floors = JSON.parse(readFileSync(FLOOR_FILE, "utf8")) as Record<string, number>;
  const measured = perFolder(readFileSync(file, "utf8"));
  const failures: string[] = [];
  const rows = [...new Set([...Object.keys(floors), ...measured.keys()])].sort();
  console.log("coverage (lines, files loaded by the tests):");
  for (const folder of rows) {
    const c = measured.get(folder);
    const floor = floors[folder];
    const pct = c ? percent(c) : 0;
    const verdict = floor === undefined ? "" : pct + 1e-9 >= floor ? `>= floor ${floor}%` : `UNDER floor ${floor}%`;
    console.log(`  ${folder.padEnd(10)} ${c ? `${pct.toFixed(1).padStart(5)}% (${c.hit}/${c.found})` : "  not measured"}  ${verdict}`);
    if (floor !== undefined && pct + 1e-9 < floor) failures.push(`${folder} ${pct.toFixed(1)}% < ${floor}%`);
    if (update && c) floors[folder] = Math.max(floor ?? 0, Math.floor(pct));
  }
  if (update) {
    writeFileSync(FLOOR_FILE, `${JSON.stringify(floors, null, 2)}\n`);
    console.log(`coverage: floors written to ${FLOOR_FILE}`);
  }
  if (failures.length > 0) {
    console.log(`coverage: under the floor: ${failures.join(", ")}`);
    process.exit(1);
  }
}
