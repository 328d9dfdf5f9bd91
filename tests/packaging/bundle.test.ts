import { describe, expect, test } from "bun:test";
import { existsSync, readFileSync, statSync } from "node:fs";
import { ROOT } from "../helpers/process";
import { elfSectionSize } from "../../scripts/elf";
import type { BuildRecord } from "../../scripts/build";

// Each executable is built from its own entry, so it carries only the client
// libraries of its own backend. Proved from the build's metafile (the list of
// every source file bundled), and the metafile is checked against the executable.

/** Backend client libraries, by the package folders their code lives in. */
const BACKEND_LIBS: Record<string, RegExp> = {
  ioredis: /node_modules\/(ioredis|@ioredis\/|redis-errors|redis-parser|cluster-key-slot)/,
  kafkajs: /node_modules\/kafkajs\//,
  nats: /node_modules\/(nats|@nats-io\/|nkeys\.js)\//,
  // The postgres pattern uses Bun's built-in client (Bun.sql); the npm package is only the benchmark's baseline.
  "postgres (npm)": /node_modules\/postgres\//,
};

/** Which backend library each executable may (and must) carry. */
const EXPECTED: Record<string, string[]> = {
  memstore: [],
  redis: ["ioredis"],
  kafka: ["kafkajs"],
  nats: ["nats"],
  postgres: [],
  "multicast-registry": ["ioredis", "kafkajs", "nats"],
  "prism-load": [],
  proxy: [],
  prismctl: [],
};

const entryOf = (name: string) => (name === "prism-load" ? "loadtest/main.ts" : `${name}/main.ts`);

function librariesIn(inputs: string[]): string[] {
  return Object.entries(BACKEND_LIBS)
    .filter(([, re]) => inputs.some((path) => re.test(path)))
    .map(([lib]) => lib);
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

  // Only entries that exist are built (make build-plugins skips the others).
  for (const [name, allowed] of Object.entries(EXPECTED).filter(([n]) => existsSync(`${ROOT}/${entryOf(n)}`))) {
    test(`dist/${name}: carries exactly its own backend library (${allowed.join(", ") || "none"})`, () => {
      const exe = `${ROOT}/dist/${name}`;
      const metaFile = `${exe}.meta.json`;
      const entry = entryOf(name);
      if (!existsSync(exe) || !existsSync(metaFile)) throw new Error(`${exe} or its metafile is missing: run make build-plugins`);
      const meta = JSON.parse(readFileSync(metaFile, "utf8")) as BuildRecord;
      // The metafile describes this very executable, not an older build.
      expect(meta.executableBytes).toBe(statSync(exe).size);
      expect(elfSectionSize(exe, ".bun")).toBe(meta.embeddedBytes);
      expect(meta.entry).toBe(entry);
      expect(librariesIn(Object.keys(meta.inputs))).toEqual(allowed);
    });
  }
});
