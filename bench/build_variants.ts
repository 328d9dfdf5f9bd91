import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BuildRecord } from "../scripts/build";
import { ROOT } from "../tests/helpers/process";
import { measureLifecycles, type Spread } from "./lifecycle_times";
import { BUN } from "./processes";

/** Start-up of one way of compiling the in-memory pattern. */
export interface BuildVariant {
  variant: string;
  bytecode: boolean;
  minify: boolean;
  executableBytes: number;
  embeddedBytes: number;
  startupMs: Spread;
  shutdownMs: Spread;
}

const VARIANTS = [
  { bytecode: true, minify: true },
  { bytecode: true, minify: false },
  { bytecode: false, minify: true },
  { bytecode: false, minify: false },
];

/**
 * Builds memstore with scripts/build.ts four ways (--bytecode × --minify) into a
 * temporary folder and measures each one's start-up, round-robin: the evidence
 * for the defaults scripts/build.ts uses.
 */
export async function measureBuildVariants(runs: number): Promise<BuildVariant[]> {
  const dir = mkdtempSync(join(tmpdir(), "prism-variants-"));
  try {
    const built = VARIANTS.map((v) => {
      const out = join(dir, `${v.bytecode ? "bytecode" : "source"}-${v.minify ? "minified" : "plain"}`);
      const flags = [...(v.bytecode ? [] : ["--no-bytecode"]), ...(v.minify ? [] : ["--no-minify"])];
      const b = Bun.spawnSync([BUN, `${ROOT}/scripts/build.ts`, "--outdir", out, ...flags, "memstore=memstore/main.ts"], {
        cwd: ROOT,
        stdout: "pipe",
        stderr: "pipe",
      });
      if (b.exitCode !== 0) throw new Error(`building memstore ${flags.join(" ")} failed: ${b.stderr.toString().slice(-500)}`);
      const record = JSON.parse(readFileSync(join(out, "memstore.meta.json"), "utf8")) as BuildRecord;
      return { ...v, record, exe: join(out, "memstore") };
    });
    const times = await measureLifecycles(
      built.map((b) => ({ name: b.exe, cmd: [b.exe, "--grpc-port", "0"], ready: /grpc listening on/ })),
      runs,
    );
    return built.map((b, i) => ({
      variant: `${b.bytecode ? "--bytecode" : "no bytecode"}, ${b.minify ? "--minify" : "no minify"}`,
      bytecode: b.bytecode,
      minify: b.minify,
      executableBytes: b.record.executableBytes,
      embeddedBytes: b.record.embeddedBytes,
      startupMs: times[i]!.startupMs,
      shutdownMs: times[i]!.shutdownMs,
    }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
