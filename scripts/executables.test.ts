import { afterAll, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseDockerfile } from "../tests/packaging/dockerfile";
import { renderDockerfile } from "./dockerfiles";
import { checkManifest, executables, patternManifests, TOOLS } from "./executables";

const roots: string[] = [];
afterAll(() => {
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

const manifest = (name: string, extra: Record<string, unknown> = {}) => ({
  name,
  description: `the ${name} pattern`,
  entry: "main.ts",
  image: `prism/${name}`,
  clientLibraries: [],
  ...extra,
});

/** A repository root holding one folder per manifest given. */
function rootWith(folders: Record<string, unknown>): string {
  const root = mkdtempSync(join(tmpdir(), "prism-executables-"));
  roots.push(root);
  for (const [folder, m] of Object.entries(folders)) {
    mkdirSync(join(root, folder));
    writeFileSync(join(root, folder, "pattern.json"), JSON.stringify(m));
  }
  mkdirSync(join(root, "not-a-pattern"));
  return root;
}

test("the repository's patterns are its folders with a pattern.json; the tools follow", () => {
  const names = executables().map((e) => e.name);
  expect(names).toEqual([...patternManifests().map((p) => p.manifest.name), ...TOOLS.map((t) => t.name)]);
  expect(names).toEqual(expect.arrayContaining(["memstore", "redis", "kafka", "nats", "postgres", "multicast-registry", "proxy", "prismctl", "prism-load"]));
});

test("a folder with a pattern.json is an executable with the pattern ports; others are not", () => {
  const root = rootWith({ newpattern: manifest("newpattern") });
  const e = executables(root).find((x) => x.folder === "newpattern");
  expect(e).toMatchObject({ name: "newpattern", entry: "newpattern/main.ts", image: "prism/newpattern", expose: [50051, 9090] });
  expect(executables(root).some((x) => x.folder === "not-a-pattern")).toBe(false);
  const df = parseDockerfile(renderDockerfile(e!));
  expect(df).toMatchObject({ from: "scratch", user: "65532:65532", entrypoint: ["/usr/local/bin/newpattern"], expose: [50051, 9090] });
  expect(df.copies).toContainEqual({ src: "dist/newpattern", dst: "/usr/local/bin/newpattern" });
});

test("two executables with one name are refused, naming both entries", () => {
  const root = rootWith({ a: manifest("proxy") });
  expect(() => executables(root)).toThrow('two executables named "proxy": a/main.ts and proxy/main.ts');
});

test("a manifest with a missing or unknown field is refused, naming the file and the field", () => {
  expect(() => checkManifest({ ...manifest("x"), image: undefined }, "x/pattern.json")).toThrow('x/pattern.json: "image" must be a non-empty string');
  expect(() => checkManifest({ ...manifest("x"), imgae: "prism/x" }, "x/pattern.json")).toThrow('unknown field "imgae"');
  expect(() => checkManifest(manifest("X"), "x/pattern.json")).toThrow('"name" must match');
  expect(() => checkManifest(manifest("x", { keyValue: { capabilities: [{ label: "x" }] } }), "x/pattern.json")).toThrow("either config or target");
});
