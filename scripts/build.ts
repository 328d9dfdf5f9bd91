// Builds each executable from its own entry with `bun build --compile`, so each
// bundles only what it imports, and prints a size report.
//
//   bun scripts/build.ts [options] name=entry ...
//     --no-bytecode   embed JavaScript source instead of precompiled bytecode (bytecode starts faster: bench/README.md)
//     --no-minify     keep identifiers and whitespace
//     --outdir DIR    where executables go                                        [dist]
//     --report        build nothing; print the report of what DIR holds
//
// Next to each executable DIR/<name>.meta.json lists the source files bundled
// into it (from Bun's metafile): tests/packaging/bundle.test.ts reads it to prove
// that a pattern carries no other backend's client library.
import { existsSync, readFileSync, statSync, writeFileSync, mkdirSync } from "node:fs";
import { parseArgs } from "node:util";
import { elfSectionSize } from "./elf";

/** What one build produced; also the shape of DIR/<name>.meta.json. */
export interface BuildRecord {
  name: string;
  entry: string;
  minify: boolean;
  bytecode: boolean;
  /** Executable file size. */
  executableBytes: number;
  /** The program embedded in the executable (its ".bun" ELF section): the bundle, plus bytecode when enabled. */
  embeddedBytes: number;
  /** The JavaScript bundle alone. */
  bundleBytes: number;
  /** Source files bundled, relative to the repository, with their sizes. */
  inputs: Record<string, number>;
  /** Why bytecode was not used although asked for. */
  note?: string;
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    "no-bytecode": { type: "boolean", default: false },
    "no-minify": { type: "boolean", default: false },
    outdir: { type: "string", default: "dist" },
    report: { type: "boolean", default: false },
  },
});
const outdir = values.outdir!;
const targets = positionals.map((a) => a.split("=") as [string, string]);

async function build(name: string, entry: string, minify: boolean, bytecode: boolean): Promise<BuildRecord> {
  const outfile = `${outdir}/${name}`;
  const result = await Bun.build({
    entrypoints: [entry],
    target: "bun",
    format: "esm",
    minify,
    bytecode,
    sourcemap: "none",
    metafile: true,
    compile: { outfile },
  } as Parameters<typeof Bun.build>[0]);
  if (!result.success) throw new AggregateError(result.logs, `build ${name} failed`);
  const meta = (result as unknown as { metafile: { inputs: Record<string, { bytes: number }> } }).metafile;
  return {
    name,
    entry,
    minify,
    bytecode,
    executableBytes: statSync(outfile).size,
    embeddedBytes: elfSectionSize(outfile, ".bun") ?? 0,
    bundleBytes: result.outputs.reduce((n, o) => n + o.size, 0),
    inputs: Object.fromEntries(Object.entries(meta.inputs).map(([path, i]) => [path, i.bytes])),
  };
}

const mb = (n: number, width = 7) => (n / 1e6).toFixed(2).padStart(width);

function report(records: BuildRecord[]): string {
  const runtime = statSync(process.execPath).size;
  const rows = records.map(
    (r) =>
      `| ${r.name.padEnd(10)} | ${mb(r.executableBytes)} | ${mb(r.embeddedBytes, 11)} | ${mb(r.bundleBytes, 9)} | ${String(Object.keys(r.inputs).length).padStart(7)} | ${r.bytecode ? "yes" : "no "}      | ${r.minify ? "yes" : "no "}    |`,
  );
  return [
    `Executables in ${outdir}/ (Bun runtime itself: ${(runtime / 1e6).toFixed(2)} MB of each):`,
    "| binary     | exe MB  | embedded MB | bundle MB | modules | bytecode | minify |",
    "| ---------- | ------: | ----------: | --------: | ------: | -------- | ------ |",
    ...rows,
    "embedded = the program inside the executable (its .bun section: bundle + bytecode); bundle = the JavaScript alone.",
  ].join("\n");
}

function readRecord(name: string): BuildRecord | undefined {
  const file = `${outdir}/${name}.meta.json`;
  if (!existsSync(file) || !existsSync(`${outdir}/${name}`)) return undefined;
  return JSON.parse(readFileSync(file, "utf8")) as BuildRecord;
}

mkdirSync(outdir, { recursive: true });
const records: BuildRecord[] = [];
let failed = false;
for (const [name, entry] of targets) {
  if (values.report) {
    const r = readRecord(name);
    if (r) records.push(r);
    continue;
  }
  if (!existsSync(entry)) continue; // an entry someone has not written yet
  const minify = !values["no-minify"];
  try {
    let record: BuildRecord;
    try {
      record = await build(name, entry, minify, !values["no-bytecode"]);
    } catch (err) {
      if (values["no-bytecode"]) throw err;
      // Bytecode cannot compile every program (e.g. some top-level await shapes): fall back, and say so.
      record = { ...(await build(name, entry, minify, false)), note: `bytecode build failed: ${String((err as Error).message).slice(0, 200)}` };
    }
    writeFileSync(`${outdir}/${name}.meta.json`, JSON.stringify(record, null, 1) + "\n");
    records.push(record);
    process.stdout.write(`built ${outdir}/${name} (${(record.executableBytes / 1e6).toFixed(1)} MB)${record.note ? ` — ${record.note}` : ""}\n`);
  } catch (err) {
    failed = true;
    const logs = err instanceof AggregateError ? err.errors.map(String).join("\n") : String(err);
    process.stderr.write(`build ${name} failed:\n${logs}\n`);
  }
}
if (records.length > 0) process.stdout.write(report(records) + "\n");
process.exit(failed ? 1 : 0);
