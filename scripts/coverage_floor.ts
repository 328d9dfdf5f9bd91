// Coverage floor (seed 002: tracked from day one, a floor that fails the build).
//   bun scripts/coverage_floor.ts [coverage/lcov.info] [--update]
// Reads the lcov report `bun test --coverage --coverage-reporter=lcov` wrote (merged by scripts/test_parallel.ts), sums lines found/hit per
// top-level source folder (sdk/, h2/ and every executable's folder: each pattern.json's, proxy/, prismctl/, loadtest/),
// prints the table and exits 1 when a folder is under its floor: a pattern's `coverageFloor` in its pattern.json,
// the others' in scripts/coverage_floor.json. --update raises floors to today's figures (rounded down to a
// whole percent, written where each floor lives), never lowers them. Bun counts only files some test loaded in-process; executables run
// as processes (dist/) are exercised by the black-box suites but not counted here. That is why only sdk/,
// h2/ and proxy/ (libraries with in-process unit tests) have floors; the pattern folders are tested mostly
// through dist/ and their figures are printed for information.
import { readFileSync, writeFileSync } from "node:fs";
import { executables, MANIFEST, ROOT } from "./executables";

const FLOOR_FILE = `${ROOT}/scripts/coverage_floor.json`;

/** Folders measured: source only (no tests, benchmarks or generated code): the SDK, the HTTP/2 client and each executable's folder. */
export function sourceFolders(root = ROOT): string[] {
  return [...new Set(["sdk", "h2", ...executables(root).map((e) => e.folder)])];
}

export interface FolderCoverage {
  found: number;
  hit: number;
}

/** Lines found and hit per top-level folder, from lcov text. */
export function perFolder(lcov: string, source = sourceFolders()): Map<string, FolderCoverage> {
  const out = new Map<string, FolderCoverage>();
  let folder: string | undefined;
  for (const line of lcov.split("\n")) {
    if (line.startsWith("SF:")) {
      const path = line.slice(3).replace(`${ROOT}/`, "");
      const top = path.split("/")[0]!;
      folder = source.includes(top) && !/\.test\.ts$|(^|\/)test_support\.ts$/.test(path) ? top : undefined;
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

/** Each folder's floor: the patterns' from their manifests, the others' from scripts/coverage_floor.json. */
function readFloors(): { floors: Record<string, number>; patternFolders: Set<string> } {
  const floors = JSON.parse(readFileSync(FLOOR_FILE, "utf8")) as Record<string, number>;
  const patternFolders = new Set<string>();
  for (const e of executables()) {
    if (!e.manifest) continue;
    patternFolders.add(e.folder);
    if (e.manifest.coverageFloor !== undefined) floors[e.folder] = e.manifest.coverageFloor;
  }
  return { floors, patternFolders };
}

/** Writes raised floors back where each lives. */
function writeFloors(floors: Record<string, number>, patternFolders: Set<string>): void {
  const own: Record<string, number> = {};
  for (const [folder, floor] of Object.entries(floors)) {
    if (!patternFolders.has(folder)) {
      own[folder] = floor;
      continue;
    }
    const file = `${ROOT}/${folder}/${MANIFEST}`;
    const manifest = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
    if (manifest.coverageFloor === floor) continue;
    writeFileSync(file, `${JSON.stringify({ ...manifest, coverageFloor: floor }, null, 2)}\n`);
  }
  writeFileSync(FLOOR_FILE, `${JSON.stringify(own, null, 2)}\n`);
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  const file = args.find((a) => !a.startsWith("--")) ?? `${ROOT}/coverage/lcov.info`;
  const update = args.includes("--update");
  const { floors, patternFolders } = readFloors();
  const measured = perFolder(readFileSync(file, "utf8"));
  const failures: string[] = [];
  const rows = [...new Set([...Object.keys(floors), ...measured.keys()])].sort();
  console.log("coverage (lines, files loaded by the tests):");
  for (const folder of rows) {
    const c = measured.get(folder);
    const floor = floors[folder];
    const pct = c ? percent(c) : 0;
    const verdict = floor === undefined ? "" : pct + 1e-9 >= floor ? `>= floor ${floor}%` : `UNDER floor ${floor}%`;
    console.log(`  ${folder.padEnd(18)} ${c ? `${pct.toFixed(1).padStart(5)}% (${c.hit}/${c.found})` : "  not measured"}  ${verdict}`);
    if (floor !== undefined && pct + 1e-9 < floor) failures.push(`${folder} ${pct.toFixed(1)}% < ${floor}%`);
    if (update && c) floors[folder] = Math.max(floor ?? 0, Math.floor(pct));
  }
  if (update) {
    writeFloors(floors, patternFolders);
    console.log(`coverage: floors written to ${FLOOR_FILE} and the patterns' ${MANIFEST}`);
  }
  if (failures.length > 0) {
    console.log(`coverage: under the floor: ${failures.join(", ")}`);
    process.exit(1);
  }
}
