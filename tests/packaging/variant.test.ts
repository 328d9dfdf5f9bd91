import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BuildRecord } from "../../scripts/build";
import { ROOT, startProcess } from "../helpers/process";

// A Multicast Registry built with a named subset of drivers (scripts/build.ts --variant) carries no code of the
// drivers it leaves out: not their source files, not their client libraries (from the build's metafile), and
// none of their marker strings in the executable; the full build (dist/multicast-registry) has every marker, so
// the check can fail. The variant refuses a slot naming a driver it was built without.

const BACKEND_LIBS: Record<string, RegExp> = {
  ioredis: /node_modules\/(ioredis|@ioredis\/|redis-errors|redis-parser|cluster-key-slot)\//,
  kafkajs: /node_modules\/kafkajs\//,
  nats: /node_modules\/(nats|@nats-io\/|nkeys\.js)\//,
};
/** Strings only each driver's code contains (error class names, default table, config keys). */
const MARKERS: Record<string, string[]> = {
  kafka: ["KafkaJSNonRetriableError"],
  postgres: ["prism_kv"],
  memstore: ["expiry_backlog"],
  redis: ["ioredis"],
  nats: ["NatsError"],
};

const outdir = mkdtempSync(join(tmpdir(), "prism-variant-"));
afterAll(() => rmSync(outdir, { recursive: true, force: true }));

function contains(file: string, marker: string): boolean {
  return readFileSync(file).includes(Buffer.from(marker));
}

describe("multicast-registry variant redis+nats", () => {
  const exe = join(outdir, "variants", "multicast-registry-redis-nats");

  test("scripts/build.ts --variant builds it", async () => {
    const p = startProcess([process.execPath, "scripts/build.ts", "--outdir", outdir, "--variant", "multicast-registry=redis,nats"]);
    expect(await p.exited).toBe(0);
    expect(existsSync(exe)).toBe(true);
  }, 120_000);

  test("its metafile lists redis and nats code and libraries only", () => {
    const meta = JSON.parse(readFileSync(`${exe}.meta.json`, "utf8")) as BuildRecord;
    const inputs = Object.keys(meta.inputs);
    const libs = Object.entries(BACKEND_LIBS)
      .filter(([, re]) => inputs.some((p) => re.test(p)))
      .map(([l]) => l);
    expect(libs).toEqual(["ioredis", "nats"]);
    for (const dir of ["redis/", "nats/"]) expect(inputs.some((p) => p.startsWith(dir))).toBe(true);
    for (const dir of ["kafka/", "memstore/", "postgres/"]) expect(inputs.filter((p) => p.startsWith(dir))).toEqual([]);
  });

  test("the executable holds no marker of kafka, postgres or memstore; the full build holds them all", () => {
    const full = join(ROOT, "dist", "multicast-registry");
    if (!existsSync(full)) throw new Error(`${full} is missing: run make build-plugins`);
    for (const [driver, markers] of Object.entries(MARKERS)) {
      for (const m of markers) {
        expect({ driver, m, full: contains(full, m) }).toEqual({ driver, m, full: true });
        expect({ driver, m, variant: contains(exe, m) }).toEqual({ driver, m, variant: driver === "redis" || driver === "nats" });
      }
    }
  });

  test("it refuses a slot naming a driver it was built without", async () => {
    const dir = join(outdir, "cfg");
    mkdirSync(dir, { recursive: true });
    const file = join(dir, "mr.yaml");
    writeFileSync(file, JSON.stringify({ slots: { registry: { driver: "memstore" }, messaging: { driver: "nats" } } }));
    const p = startProcess([exe, "--config", file, "--grpc-port", "0"]);
    expect(await p.exited).toBe(1);
    expect(p.output()).toContain('driver \\"memstore\\" is not built into pattern multicast-registry (drivers: redis, nats)');
  }, 30_000);
});
