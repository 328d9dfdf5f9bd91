// The base build of `make bench-compare` (bench/compare.ts): a git ref checked out in a worktree of this repository,
// its protos generated and the executables a comparison needs built by that ref's own scripts/build.ts.
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, realpathSync, rmdirSync, rmSync, symlinkSync, unlinkSync } from "node:fs";
import { dirname } from "node:path";
import { ROOT } from "../tests/helpers/process";
import { BUN } from "./processes";

const log = (s: string) => process.stderr.write(`bench-compare: ${s}\n`);

export function git(...args: string[]): string {
  const r = Bun.spawnSync(["git", "-C", ROOT, ...args], { stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`git ${args.join(" ")}: ${r.stderr.toString().trim()}`);
  return r.stdout.toString().trim();
}

/** Runs a command in a checkout with its node_modules/.bin first on PATH (buf finds protoc-gen-es there); throws with its output. */
function run(cmd: string[], cwd: string): void {
  const r = Bun.spawnSync(cmd, { cwd, env: { ...process.env, PATH: `${ROOT}/node_modules/.bin:${process.env.PATH}` }, stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${cmd.join(" ")} (in ${cwd}) exited ${r.exitCode}:\n${(r.stdout.toString() + r.stderr.toString()).slice(-2000)}`);
}

/**
 * name → entry of every executable a checkout builds: from its scripts/executables.ts (the pattern manifests) when
 * it has one, else from its Makefile's BINARIES (name=entry pairs, before the manifests).
 */
export function executableEntries(tree: string): Map<string, string> {
  if (existsSync(`${tree}/scripts/executables.ts`)) {
    const script = `const { executables } = await import(${JSON.stringify(`${tree}/scripts/executables.ts`)}); console.log(JSON.stringify(executables().map((e) => [e.name, e.entry])));`;
    const r = Bun.spawnSync([BUN, "-e", script], { cwd: tree, stdout: "pipe", stderr: "pipe" });
    if (r.exitCode !== 0) throw new Error(`listing the executables of ${tree}: ${r.stderr.toString().slice(-1000)}`);
    return new Map(JSON.parse(r.stdout.toString()) as Array<[string, string]>);
  }
  return makefileBinaries(existsSync(`${tree}/Makefile`) ? readFileSync(`${tree}/Makefile`, "utf8") : "");
}

/** The name=entry pairs of a Makefile's `BINARIES :=` (continued over lines ending in a backslash). */
export function makefileBinaries(makefile: string): Map<string, string> {
  const m = makefile.match(/^BINARIES\s*:?=((?:[^\n]*\\\n)*[^\n]*)/m);
  const pairs = (m?.[1] ?? "")
    .replace(/\\\n/g, " ")
    .split(/\s+/)
    .filter((w) => w.includes("="));
  return new Map(pairs.map((p) => p.split("=", 2) as [string, string]));
}

/** Builds `names` into <tree>/dist with the checkout's own scripts/build.ts, in its name=entry form (understood before and after the manifests). */
export function buildExecutables(tree: string, names: string[]): void {
  const entries = executableEntries(tree);
  const targets = names.map((n) => {
    const entry = entries.get(n);
    if (!entry) throw new Error(`${tree} builds no executable named ${n} (it builds: ${[...entries.keys()].join(", ")})`);
    return `${n}=${entry}`;
  });
  log(`building ${targets.join(" ")} in ${tree} ...`);
  run([BUN, "scripts/build.ts", ...targets], tree);
}

/**
 * The base checked out in a worktree of this repository, with its own protos, and this checkout's node_modules when
 * both lock the same packages (else the base's own, installed from its package-lock.json).
 */
export function checkOutBase(sha: string): string {
  const tree = `${ROOT}/.build/bench-compare/${sha.slice(0, 12)}`;
  if (existsSync(tree)) removeBase(tree);
  mkdirSync(dirname(tree), { recursive: true });
  git("worktree", "add", "--detach", tree, sha);
  const lock = (dir: string) => (existsSync(`${dir}/package-lock.json`) ? readFileSync(`${dir}/package-lock.json`, "utf8") : "");
  if (lock(tree) === lock(ROOT)) symlinkSync(realpathSync(`${ROOT}/node_modules`), `${tree}/node_modules`);
  else {
    log(`installing the packages of ${sha.slice(0, 12)} (its package-lock.json differs) ...`);
    run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], tree);
  }
  log(`generating the protos of ${sha.slice(0, 12)} with its buf.gen.yaml ...`);
  run([`${ROOT}/node_modules/.bin/buf`, "generate"], tree);
  return tree;
}

export function removeBase(tree: string): void {
  // The link first, so nothing that removes the tree can reach into the shared node_modules.
  if (existsSync(`${tree}/node_modules`) && lstatSync(`${tree}/node_modules`).isSymbolicLink()) unlinkSync(`${tree}/node_modules`);
  try {
    git("worktree", "remove", "--force", tree);
  } catch {
    rmSync(tree, { recursive: true, force: true });
    git("worktree", "prune");
  }
  if (readdirSync(dirname(tree)).length === 0) rmdirSync(dirname(tree));
}
