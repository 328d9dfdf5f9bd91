/** Small helpers shared by the black-box tests of dist/memstore. */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import { freePort } from "../helpers/ports";

export { freePort };

/** Writes a YAML config into a fresh temporary folder; remove() deletes it. */
export function tempConfig(yaml: string): { path: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), "memstore-test-"));
  const path = join(dir, "memstore.yaml");
  writeFileSync(path, yaml);
  return { path, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
