/** Small helpers shared by the black-box tests of dist/memstore. */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** A TCP port that was free a moment ago on 127.0.0.1 (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

/** Writes a YAML config into a fresh temporary folder; remove() deletes it. */
export function tempConfig(yaml: string): { path: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), "memstore-test-"));
  const path = join(dir, "memstore.yaml");
  writeFileSync(path, yaml);
  return { path, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
