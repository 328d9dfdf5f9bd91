import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync, statSync } from "node:fs";
import { ROOT } from "../helpers/process";
import { elfSectionSize } from "../../scripts/elf";
import type { BuildRecord } from "../../scripts/build";
import { executables } from "../../scripts/executables";

// Each executable is built from its own entry, so it carries only the client
// libraries of its own backend. Proved from the build's metafile (the list of
// every source file bundled), and the metafile is checked against the executable.

/** Each executable's backend client libraries, from its manifest (scripts/executables.ts). */
const EXECUTABLES = executables();
/**
 * Libraries no executable may carry unless its manifest names them: every library some manifest names, and
 * the npm postgres package (the postgres pattern uses Bun's built-in client; the package is the benchmark's baseline).
 */
const BACKEND_LIBS = [...new Set([...EXECUTABLES.flatMap((e) => e.clientLibraries), "postgres"])].sort();
const libraryPath = (lib: string) => new RegExp(`node_modules/${lib.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}/`);

function librariesIn(inputs: string[]): string[] {
  return BACKEND_LIBS.filter((lib) => inputs.some((path) => libraryPath(lib).test(path)));
}

async function bundleInputs(entry: string): Promise<string[]> {
  const result = await Bun.build({ entrypoints: [`${ROOT}/${entry}`], target: "bun", metafile: true } as Parameters<typeof Bun.build>[0]);
  expect(result.success).toBe(true);
  return Object.keys((result as unknown as { metafile: { inputs: Record<string, unknown> } }).metafile.inputs);
}

describe("bundle contents", () => {
  test("the in-memory pattern's bundle holds no ioredis, kafkajs or nats code", async () => {
    const inputs = await bundleInputs("memstore/main.ts");
    expect(inputs.some((p) => p.startsWith("memstore/"))).toBe(true);
    expect(librariesIn(inputs)).toEqual([]);
  });

  test("the check can fail: the Redis pattern's bundle does hold ioredis", async () => {
    if (!existsSync(`${ROOT}/redis/main.ts`)) throw new Error("redis/main.ts is missing");
    expect(librariesIn(await bundleInputs("redis/main.ts"))).toEqual(["ioredis"]);
  });

  // The per-executable tests below are made from this list: were discovery to find none, they would vanish and pass.
  test("the list of executables holds every pattern and tool built today", () => {
    const names = EXECUTABLES.map((e) => e.name);
    expect(names).toEqual(expect.arrayContaining(["memstore", "redis", "kafka", "nats", "postgres", "multicast-registry", "proxy", "prismctl", "prism-load"]));
  });

  test("every executable's manifest names only npm packages the repository depends on", () => {
    const deps = Object.keys((JSON.parse(readFileSync(`${ROOT}/package.json`, "utf8")) as { dependencies: Record<string, string> }).dependencies);
    expect(BACKEND_LIBS.filter((lib) => !deps.includes(lib))).toEqual([]);
  });

  for (const { name, entry, clientLibraries } of EXECUTABLES) {
    const allowed = clientLibraries.toSorted();
    test(`dist/${name}: carries exactly its own backend library (${allowed.join(", ") || "none"})`, () => {
      const exe = `${ROOT}/dist/${name}`;
      const metaFile = `${exe}.meta.json`;
      if (!existsSync(exe) || !existsSync(metaFile)) throw new Error(`${exe} or its metafile is missing: run make build-plugins`);
      const meta = JSON.parse(readFileSync(metaFile, "utf8")) as BuildRecord;
      // The metafile describes this very executable, not an older build.
      expect(meta.executableBytes).toBe(statSync(exe).size);
      expect(elfSectionSize(exe, ".bun")).toBe(meta.embeddedBytes);
      expect(meta.entry).toBe(entry);
      // The inputs are this executable's sources (an empty or foreign list would carry no library and pass).
      expect(Object.keys(meta.inputs)).toContain(entry);
      expect(librariesIn(Object.keys(meta.inputs))).toEqual(allowed);
    });
  }
});
