// Builds each executable from its own entry with `bun build --compile`, so each
// bundles only what it imports. Usage: bun scripts/build.ts name=entry ...
import { existsSync, statSync } from "node:fs";

const targets = process.argv.slice(2).map((a) => a.split("=") as [string, string]);
let failed = false;
for (const [name, entry] of targets) {
  if (!existsSync(entry)) continue;
  const out = `dist/${name}`;
  const proc = Bun.spawnSync(["node_modules/.bin/bun", "build", "--compile", "--minify", "--sourcemap=none", entry, "--outfile", out], {
    stdout: "pipe",
    stderr: "pipe",
  });
  if (proc.exitCode !== 0) {
    failed = true;
    process.stderr.write(`build ${name} failed:\n${proc.stderr.toString()}${proc.stdout.toString()}\n`);
    continue;
  }
  process.stdout.write(`built ${out} (${(statSync(out).size / 1e6).toFixed(1)} MB)\n`);
}
process.exit(failed ? 1 : 0);
