/**
 * The Multicast Registry composes drivers only through the SDK's driver interfaces (issue 19 item 3): no file of it
 * imports a driver's internals. Outside its own folder it may import the SDK, generated protos, packages, and
 * `<driver>/factory` (what its backends/ register in slots) — nothing else of a driver (redis/driver, postgres/keys…).
 */
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import ts from "typescript";

const HERE = import.meta.dir;
const ROOT = resolve(HERE, "..");

/** Every import specifier of a TypeScript source, type-only imports, re-exports and dynamic imports included. */
export function importSpecifiers(source: string): string[] {
  return ts.preProcessFile(source, true, true).importedFiles.map((f) => f.fileName);
}

/** Why `specifier`, imported by `file` (a path under ROOT), crosses the boundary; undefined when allowed. */
export function violation(file: string, specifier: string): string | undefined {
  if (!specifier.startsWith(".")) return undefined; // packages, node:, bun:
  const target = relative(ROOT, resolve(dirname(file), specifier))
    .split(sep)
    .join("/");
  const [top, ...rest] = target.split("/");
  if (top === "multicast-registry" || top === "sdk") return undefined;
  if (top === "proto" && rest[0] === "gen") return undefined;
  if (rest.length === 1 && rest[0] === "factory") return undefined;
  return `${relative(ROOT, file)} imports ${specifier} (${target}): a driver's internals, not its factory or an SDK interface`;
}

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    if (e.isDirectory()) return sources(p);
    return e.name.endsWith(".ts") ? [p] : [];
  });
}

describe("multicast-registry boundaries", () => {
  test("the checker sees type-only, re-exported and dynamic imports, and refuses driver internals", () => {
    const src = [
      'import type { RedisDriver } from "../../redis/driver";',
      'export { keyBytes } from "../postgres/keys";',
      'const m = await import("../redis/scan");',
      'import { redisDriver } from "../../redis/factory";',
      'import { Code } from "../sdk/errors";',
    ].join("\n");
    expect(importSpecifiers(src)).toEqual(["../../redis/driver", "../postgres/keys", "../redis/scan", "../../redis/factory", "../sdk/errors"]);
    const backend = join(HERE, "backends", "redis.ts");
    const top = join(HERE, "identities.ts");
    expect(violation(backend, "../../redis/driver")).toContain("redis/driver");
    expect(violation(top, "../postgres/keys")).toContain("postgres/keys");
    expect(violation(top, "../redis/scan")).toContain("redis/scan");
    expect(violation(backend, "../../redis/factory")).toBeUndefined();
    expect(violation(top, "../sdk/errors")).toBeUndefined();
  });

  test("no file of the pattern imports a driver's internals", () => {
    const files = sources(HERE);
    const specifiers = files.flatMap((f) => importSpecifiers(readFileSync(f, "utf8")).map((s) => [f, s] as const));
    // The scan reads the pattern: its files, and the factories its backends register.
    expect(files.length).toBeGreaterThan(10);
    expect(
      specifiers
        .filter(([f, s]) => f.startsWith(join(HERE, "backends")) && s.endsWith("/factory"))
        .map(([, s]) => s.split("/").at(-2))
        .sort(),
    ).toEqual(["kafka", "memstore", "nats", "postgres", "redis"]);
    expect(specifiers.map(([f, s]) => violation(f, s)).filter((v) => v !== undefined)).toEqual([]);
  });
});
