/**
 * The SDK's generic layers stay transport-neutral: no module of concurrency/, services/, drivers/, emulation/,
 * config/ or lifecycle/ (but the control-plane client, which is gRPC by nature) loads @grpc/grpc-js at run time,
 * directly or through what it imports. Type-only imports are erased and do not count.
 */
import { describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import ts from "typescript";

const SDK = import.meta.dir;
const GENERIC = ["concurrency", "services", "drivers", "emulation", "config", "lifecycle"];
const ALLOWED = new Set([join(SDK, "lifecycle/control_plane_client.ts")]);

/** The specifiers a file imports or re-exports at run time (type-only imports and exports left out). */
function runtimeImports(file: string): string[] {
  const sf = ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.ESNext, false);
  const out: string[] = [];
  for (const st of sf.statements) {
    if (ts.isImportDeclaration(st) && ts.isStringLiteral(st.moduleSpecifier)) {
      const c = st.importClause;
      const typeOnly =
        c !== undefined &&
        (c.isTypeOnly ||
          (c.name === undefined &&
            c.namedBindings !== undefined &&
            ts.isNamedImports(c.namedBindings) &&
            c.namedBindings.elements.length > 0 &&
            c.namedBindings.elements.every((e) => e.isTypeOnly)));
      if (!typeOnly) out.push(st.moduleSpecifier.text);
    } else if (ts.isExportDeclaration(st) && st.moduleSpecifier && ts.isStringLiteral(st.moduleSpecifier) && !st.isTypeOnly) out.push(st.moduleSpecifier.text);
  }
  return out;
}

function resolveLocal(from: string, spec: string): string | undefined {
  const base = resolve(dirname(from), spec);
  for (const c of [`${base}.ts`, join(base, "index.ts")]) if (existsSync(c)) return c;
  return undefined;
}

/** The chain of modules by which `file` reaches @grpc/grpc-js at run time, or undefined. */
function pathToGrpc(file: string, seen = new Set<string>()): string[] | undefined {
  if (seen.has(file)) return undefined;
  seen.add(file);
  for (const spec of runtimeImports(file)) {
    if (spec === "@grpc/grpc-js" || spec.startsWith("@grpc/grpc-js/")) return [file, spec];
    if (!spec.startsWith(".")) continue;
    const next = resolveLocal(file, spec);
    const via = next && pathToGrpc(next, seen);
    if (via) return [file, ...via];
  }
  return undefined;
}

const files = GENERIC.flatMap((d) =>
  readdirSync(join(SDK, d))
    .filter((f) => f.endsWith(".ts") && !f.endsWith(".test.ts") && f !== "test_support.ts")
    .map((f) => join(SDK, d, f)),
).filter((f) => !ALLOWED.has(f));

describe("the SDK's generic layers", () => {
  test("there are modules to check", () => {
    expect(files.length).toBeGreaterThan(30);
  });
  test.each(files.map((f) => [f.slice(SDK.length + 1), f]))("%s does not load grpc-js", (_name, file) => {
    const chain = pathToGrpc(file as string);
    expect(chain?.map((f) => f.replace(`${SDK}/`, "sdk/")).join(" -> ")).toBeUndefined();
  });
});
