/**
 * The package's emitted declarations (client/tsconfig.types.json → dist/types, exports.types) resolve on their
 * own: a program importing "@prism/client" from a directory holding only the package (package.json + dist/types)
 * and its two dependencies type-checks (moduleResolution bundler: the declarations keep extensionless relative
 * imports, which NodeNext refuses), and a misuse of the client is a type error (the types are not `any`).
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT } from "../helpers/process";

const dir = mkdtempSync(join(tmpdir(), "prism-client-types-"));
const tsc = (project: string) => Bun.spawnSync([join(ROOT, "node_modules/.bin/tsc"), "-p", project], { cwd: dir, stdout: "pipe", stderr: "pipe" });

beforeAll(() => {
  const pkg = join(dir, "node_modules/@prism/client");
  mkdirSync(pkg, { recursive: true });
  // Emit the declarations into the copy only (the repo's client/dist is left alone).
  const emit = Bun.spawnSync([join(ROOT, "node_modules/.bin/tsc"), "-p", join(ROOT, "client/tsconfig.types.json"), "--outDir", join(pkg, "dist/types")], {
    stdout: "pipe",
    stderr: "pipe",
  });
  if (emit.exitCode !== 0) throw new Error(`tsc --emitDeclarationOnly failed:\n${emit.stdout}${emit.stderr}`);
  cpSync(join(ROOT, "client/package.json"), join(pkg, "package.json"));
  for (const dep of ["@bufbuild/protobuf", "@grpc/grpc-js", "@types/node"]) {
    mkdirSync(join(dir, "node_modules", dep, ".."), { recursive: true });
    symlinkSync(join(ROOT, "node_modules", dep), join(dir, "node_modules", dep));
  }
  const options = { strict: true, noEmit: true, module: "ESNext", moduleResolution: "bundler", target: "ES2022", types: ["node"], skipLibCheck: false };
  writeFileSync(join(dir, "package.json"), JSON.stringify({ type: "module" }));
  writeFileSync(join(dir, "tsconfig.json"), JSON.stringify({ compilerOptions: options, files: ["app.ts"] }));
  writeFileSync(join(dir, "tsconfig.bad.json"), JSON.stringify({ compilerOptions: options, files: ["bad.ts"] }));
  writeFileSync(
    join(dir, "app.ts"),
    `import { connect, PrismClientError, type Session, type QueueDelivery, type ChangeEvent } from "@prism/client";
const prism = await connect({ address: "127.0.0.1:8980", namespace: "default" });
const version: string = await prism.keyValue.set("k", "v", { ttlSeconds: 5 });
const s: Session = await prism.session.create("ada", { attributes: { a: "1" } });
const n: bigint = s.version;
for await (const d of prism.queue.consume("t", "g")) { const ok: boolean = await d.ack(); const q: QueueDelivery = d; void ok; void q; break; }
for await (const e of prism.cdc.subscribe({ fromLsn: "0/1" })) { const c: ChangeEvent = e; void c; break; }
try { await prism.session.update(s.sessionId, { set: { a: "2" }, expectedVersion: n }); } catch (err) { if (err instanceof PrismClientError) console.log(err.reason, err.currentVersion); }
console.log(version);
`,
  );
  writeFileSync(
    join(dir, "bad.ts"),
    `import { connect } from "@prism/client";\nconst prism = await connect({ address: "x" });\nconst wrong: number = await prism.keyValue.set("k", "v");\nvoid wrong;\n`,
  );
}, 60_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("a program using @prism/client type-checks against dist/types alone; a misuse does not", () => {
  const good = tsc("tsconfig.json");
  expect(`${good.stdout}${good.stderr}`).toBe("");
  expect(good.exitCode).toBe(0);
  const bad = tsc("tsconfig.bad.json");
  expect(bad.exitCode).not.toBe(0);
  expect(bad.stdout.toString()).toContain("bad.ts(3,7): error TS2322: Type 'string' is not assignable to type 'number'.");
}, 60_000);
