import { describe, expect, test } from "bun:test";
import { relative } from "node:path";
import { ROOT } from "../helpers/process";

// `make check` type-checks the program tsconfig.json describes; a TypeScript file outside it is never checked
// (postgres/, multicast-registry/ and scripts/ once were, hiding two type errors). Every .ts file git knows
// (tracked, or new and not ignored) must be in the program; generated code and build output are not ours.

const NOT_OURS = /^(node_modules|dist|proto\/gen|\.build|coverage)\//;

/** The repository's own .ts files that `listed` (paths relative to the root) leaves out. */
export function outsideProgram(files: readonly string[], listed: ReadonlySet<string>): string[] {
  return files.filter((f) => f.endsWith(".ts") && !NOT_OURS.test(f) && !listed.has(f));
}

function run(cmd: string[]): string {
  const r = Bun.spawnSync(cmd, { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`${cmd.join(" ")} exited ${r.exitCode}: ${r.stderr.toString()}`);
  return r.stdout.toString();
}

describe("tsconfig.json", () => {
  test("its program holds every TypeScript file of the repository", () => {
    const listed = new Set(
      run([`${ROOT}/node_modules/.bin/tsc`, "--listFilesOnly", "-p", "."])
        .split("\n")
        .filter((l) => l !== "")
        .map((l) => relative(ROOT, l)),
    );
    const files = run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "*.ts"])
      .split("\n")
      .filter((l) => l !== "");
    expect(files.length).toBeGreaterThan(400);
    expect(files).toContain("scripts/build.ts");
    expect(outsideProgram(files, listed)).toEqual([]);
  }, 60_000);

  test("the check can fail: a file the program does not list is reported", () => {
    const files = ["sdk/index.ts", "postgres/driver.test.ts", "proto/gen/x_pb.ts", "README.md"];
    expect(outsideProgram(files, new Set(["sdk/index.ts"]))).toEqual(["postgres/driver.test.ts"]);
  });
});
