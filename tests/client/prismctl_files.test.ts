/**
 * dist/prismctl kv put-file / get-file against dist/proxy (a memstore namespace): a file past the single-message
 * limit round-trips byte for byte over StoreStream / RetrieveStream, --json answers, a missing key is exit 1 and
 * leaves the target file alone.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { patternBytes } from "../acceptance/keyvalue_large.suite";
import { requireBuilt } from "../proxy/harness";
import { type RunningProxy, startProxy, prismctlOn } from "./proxy";

let proxy: RunningProxy;
let dir: string;
const run = crypto.randomUUID().slice(0, 8);

const ctl = prismctlOn(() => proxy, "kv", 60000);
const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

beforeAll(async () => {
  requireBuilt("prismctl", "proxy");
  proxy = await startProxy();
  dir = mkdtempSync(join(tmpdir(), "prismctl-files-"));
}, 90_000);
afterAll(async () => {
  await proxy?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test("put-file then get-file: 9 MiB byte for byte; Retrieve alone refuses it; a missing key is exit 1 and writes nothing", async () => {
  const key = `files-${run}`;
  const value = patternBytes(9 * (1 << 20) + 17, 5);
  writeFileSync(join(dir, "in.bin"), value);

  const put = await ctl("kv", "put-file", key, join(dir, "in.bin"));
  expect([put.code, put.stdout, put.stderr]).toEqual([0, `OK (${value.byteLength} bytes)\n`, ""]);
  // Past one message: the unary get is refused and names the streaming call.
  const unary = await ctl("kv", "get", key);
  expect(unary.code).not.toBe(0);
  expect(unary.stderr).toContain("RetrieveStream");

  const got = JSON.parse((await ctl("--json", "kv", "get-file", key, join(dir, "out.bin"))).stdout);
  expect(got).toMatchObject({ key, found: true, bytes: value.byteLength });
  expect(got.version).not.toBe("");
  expect(sha(readFileSync(join(dir, "out.bin")))).toBe(sha(value));

  const missing = await ctl("kv", "get-file", `${key}-missing`, join(dir, "missing.bin"));
  expect([missing.code, missing.stderr]).toEqual([1, `(not found) ${key}-missing\n`]);
  expect(existsSync(join(dir, "missing.bin"))).toBe(false);
  expect(readdirSync(dir).sort()).toEqual(["in.bin", "out.bin"]);
}, 90_000);
