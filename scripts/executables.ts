// Every executable the build makes, its image and what the packaging tests, the coverage table and the
// capabilities script need to know about it: the patterns from their manifests (<folder>/pattern.json in a
// top-level folder, found by listing the repository), plus the few executables that are not patterns (TOOLS).
// A new pattern joins the build, the images and those tests with its folder alone.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";

export const ROOT = resolve(import.meta.dir, "..");
export const MANIFEST = "pattern.json";

/** A row of the capabilities table (scripts/capabilities.ts): how to start the pattern to ask it. */
export interface CapabilityRow {
  /** Row label: the pattern and the configuration asked. */
  label: string;
  /** Started as dist/<name> --config <this> (needs no service). */
  config?: Record<string, unknown>;
  /** Or started by a target factory of the acceptance tests (for a pattern that needs a service). */
  target?: { module: string; export: string; args?: unknown[] };
}

/** <folder>/pattern.json: one pattern executable. */
export interface PatternManifest {
  /** Executable (dist/<name>) and the name a proxy namespace's `pattern:` gives. */
  name: string;
  /** One line for the image's Dockerfile, e.g. "the Redis pattern". */
  description: string;
  /** Entry point, relative to the pattern's folder. */
  entry: string;
  /** Image name, tagged :latest by make images. */
  image: string;
  /** Backend client libraries (npm packages) the executable carries; no other's code may be bundled. */
  clientLibraries: string[];
  /** Composed patterns (RFC-025): each slot's required interfaces and the drivers built in that fill it. */
  slots?: Record<string, { requires: string[]; optional?: boolean; drivers: string[] }>;
  /** A key-value pattern: rows of the capabilities table. */
  keyValue?: { capabilities: CapabilityRow[] };
  /** Line coverage floor (percent) of the folder, checked by scripts/coverage_floor.ts. */
  coverageFloor?: number;
}

/** One executable of dist/ and its FROM scratch image. */
export interface Executable {
  name: string;
  /** Top-level source folder (its coverage row). */
  folder: string;
  /** Entry point, relative to the repository. */
  entry: string;
  image: string;
  description: string;
  /** Ports the image exposes, and the environment that puts the executable on them. */
  expose: number[];
  env: Record<string, string>;
  clientLibraries: string[];
  /** Set for a pattern. */
  manifest?: PatternManifest;
}

/**
 * Every pattern serves gRPC and /health /ready /metrics on these ports in its image (the SDK's settings), bound on
 * every interface: in a container it is reached from outside (outside one, patterns bind loopback by default).
 */
const PATTERN_PORTS = {
  expose: [50051, 9090],
  env: { PRISM_GRPC_PORT: "50051", PRISM_METRICS_PORT: "9090", PRISM_GRPC_HOST: "0.0.0.0", PRISM_METRICS_HOST: "0.0.0.0" },
};

/** The executables that are not patterns. */
export const TOOLS: readonly Executable[] = [
  {
    name: "proxy",
    folder: "proxy",
    entry: "proxy/main.ts",
    image: "prism/proxy",
    description: "the proxy (clients on 8980, /health /ready /metrics on 9090); mount proxy.yaml, pass --config",
    expose: [8980, 9090],
    env: { PRISM_LISTEN: "0.0.0.0:8980", PRISM_ADMIN_PORT: "9090" },
    clientLibraries: [],
  },
  {
    name: "prismctl",
    folder: "prismctl",
    entry: "prismctl/main.ts",
    image: "prism/prismctl",
    description: "the operator CLI",
    expose: [],
    env: {},
    clientLibraries: [],
  },
  {
    name: "prism-load",
    folder: "loadtest",
    entry: "loadtest/main.ts",
    image: "prism/prism-load",
    description: "the load generator; run it with --proxy HOST:PORT or --direct HOST:PORT",
    expose: [],
    env: {},
    clientLibraries: [],
  },
];

const NAME = /^[a-z][a-z0-9-]*$/;

/** Checks a parsed manifest's shape; throws naming the file and the field. */
export function checkManifest(m: unknown, file: string): PatternManifest {
  const fail = (what: string): never => {
    throw new Error(`${file}: ${what}`);
  };
  if (typeof m !== "object" || m === null || Array.isArray(m)) return fail("expected a JSON object");
  const o = m as Record<string, unknown>;
  const known = ["$comment", "name", "description", "entry", "image", "clientLibraries", "slots", "keyValue", "coverageFloor"];
  for (const k of Object.keys(o)) if (!known.includes(k)) fail(`unknown field "${k}" (fields: ${known.join(", ")})`);
  for (const k of ["name", "description", "entry", "image"]) if (typeof o[k] !== "string" || o[k] === "") fail(`"${k}" must be a non-empty string`);
  if (!NAME.test(o.name as string)) fail(`"name" must match ${NAME}`);
  if (!Array.isArray(o.clientLibraries) || o.clientLibraries.some((l) => typeof l !== "string")) fail(`"clientLibraries" must be a list of npm package names`);
  if (o.coverageFloor !== undefined && (typeof o.coverageFloor !== "number" || o.coverageFloor < 0 || o.coverageFloor > 100)) {
    fail(`"coverageFloor" must be a percentage`);
  }
  if (o.slots !== undefined) {
    if (typeof o.slots !== "object" || o.slots === null) fail(`"slots" must be an object`);
    for (const [slot, s] of Object.entries(o.slots as Record<string, { requires?: unknown; drivers?: unknown }>)) {
      if (!Array.isArray(s.requires) || !Array.isArray(s.drivers)) fail(`slot "${slot}" needs "requires" and "drivers" lists`);
    }
  }
  if (o.keyValue !== undefined) {
    const rows = (o.keyValue as { capabilities?: unknown }).capabilities;
    if (!Array.isArray(rows) || rows.length === 0) fail(`"keyValue.capabilities" must list at least one row`);
    for (const r of rows as CapabilityRow[])
      if (typeof r.label !== "string" || (r.config === undefined) === (r.target === undefined))
        fail(`each capabilities row has a label and either config or target`);
  }
  return o as unknown as PatternManifest;
}

/** The pattern manifests of the repository's top-level folders, sorted by folder. */
export function patternManifests(root = ROOT): Array<{ folder: string; manifest: PatternManifest }> {
  return readdirSync(root, { withFileTypes: true })
    .filter((d) => d.isDirectory() && !d.name.startsWith(".") && d.name !== "node_modules" && existsSync(join(root, d.name, MANIFEST)))
    .map((d) => d.name)
    .sort()
    .map((folder) => {
      const file = `${folder}/${MANIFEST}`;
      return { folder, manifest: checkManifest(JSON.parse(readFileSync(join(root, file), "utf8")), file) };
    });
}

/** The executable a pattern manifest describes. */
export function patternExecutable(folder: string, m: PatternManifest): Executable {
  return {
    name: m.name,
    folder,
    entry: `${folder}/${m.entry}`,
    image: m.image,
    description: m.description,
    expose: PATTERN_PORTS.expose,
    env: PATTERN_PORTS.env,
    clientLibraries: m.clientLibraries,
    manifest: m,
  };
}

/** Every executable: the patterns, then the tools. Names are unique. */
export function executables(root = ROOT): Executable[] {
  const all = [...patternManifests(root).map(({ folder, manifest }) => patternExecutable(folder, manifest)), ...TOOLS];
  const seen = new Map<string, string>();
  for (const e of all) {
    const other = seen.get(e.name);
    if (other) throw new Error(`two executables named "${e.name}": ${other} and ${e.entry}`);
    seen.set(e.name, e.entry);
  }
  return all;
}
