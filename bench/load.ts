import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Report } from "../loadtest/report";
import { BUN } from "./processes";
import { ROOT } from "../tests/helpers/process";

/**
 * Runs prism-load (`executable`, by default dist/prism-load, or its source under Bun when not built) in its
 * own process, so the load generator is the same client for every row and its CPU is its own (always this
 * checkout's, also when bench/compare.ts serves a base build); returns its
 * JSON report.
 */
export async function prismLoad(args: string[], executable?: string): Promise<Report> {
  const dir = mkdtempSync(join(tmpdir(), "prism-bench-"));
  const out = join(dir, "report.json");
  const own = `${ROOT}/dist/prism-load`;
  const cmd = executable ? [executable] : existsSync(own) ? [own] : [BUN, `${ROOT}/loadtest/main.ts`];
  try {
    const p = Bun.spawn([...cmd, ...args, "--progress", "never", "--json", out], { stdout: "pipe", stderr: "pipe", stdin: "ignore" });
    const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
    if (!existsSync(out)) throw new Error(`prism-load ${args.join(" ")} exited ${code} without a report: ${(stderr || stdout).trim().slice(-600)}`);
    return JSON.parse(readFileSync(out, "utf8")) as Report;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
