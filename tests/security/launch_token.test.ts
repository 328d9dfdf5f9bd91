/**
 * The launch secret of a launched pattern (issue 18, item 9), tried as a hostile process of the same user would:
 * it must not sit in the pattern's /proc/<pid>/environ, and even a copy of it does not let another process
 * register as the launched pattern — the proxy accepts the registration only on a connection that belongs to the
 * pid it launched (SO_PEERCRED on the control-plane socket).
 */
import { afterAll, describe, expect, test, setDefaultTimeout } from "bun:test";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT, startProcess } from "../helpers/process";
import { eventually, requireBuilt, startProxy } from "../proxy/harness";

setDefaultTimeout(30_000);

const stops: (() => unknown)[] = [];
afterAll(async () => {
  for (const s of stops.reverse()) await s();
});

function environOf(pid: number): string[] {
  return readFileSync(`/proc/${pid}/environ`, "utf8").split("\0");
}

describe("the launch secret", () => {
  test("is not in a launched pattern's environment", async () => {
    const proxy = await startProxy("namespaces: [{ name: default, pattern: memstore }]\n");
    stops.push(
      () => proxy.cleanup(),
      () => proxy.stop(),
    );
    const p = await proxy.pattern("default");
    const env = environOf(p.pid!);
    expect(env.filter((e) => e.startsWith("PRISM_LAUNCH_TOKEN="))).toEqual([]);
    // Nothing in it looks like the 32-byte base64url secret either.
    expect(env.filter((e) => /=[A-Za-z0-9_-]{43}$/.test(e))).toEqual([]);
  });

  test("copied to another process does not let it register as the launched pattern", async () => {
    requireBuilt("proxy");
    const dir = mkdtempSync(join(tmpdir(), "prism-launch-token-"));
    stops.push(() => rmSync(dir, { recursive: true, force: true }));
    const result = join(dir, "result.json");
    // The thief: another process of the same user holding the secret, claiming the launched pattern's pid.
    const thief = join(dir, "thief.ts");
    writeFileSync(
      thief,
      `import { writeFileSync } from "node:fs";
import { ProxyControlPlane } from "${ROOT}/proto/gen/prism/interfaces/proxy_control_plane_pb";
import { createClient } from "${ROOT}/sdk/grpc/client";
const [addr, token, pid] = process.argv.slice(2);
const h = createClient(ProxyControlPlane, addr);
async function* msgs() {
  yield { correlationId: "r", message: { case: "register", value: { patternName: "memstore", patternVersion: "0", processId: Number(pid) } } };
  await new Promise(() => {});
}
let answer = { success: false, error: "no answer" };
try {
  for await (const a of h.client.managePattern(msgs(), { metadata: { "x-prism-launch-token": token }, timeoutMs: 10_000 })) {
    answer = a.command.value;
    break;
  }
} catch (err) {
  answer = { success: false, error: String(err) };
}
writeFileSync(${JSON.stringify(result)}, JSON.stringify({ success: answer.success, error: answer.error, tokenLength: token.length }));
h.close();
process.exit(0);
`,
    );
    // The "pattern" the proxy launches: it takes its secret the way it was handed over, gives it to the thief and
    // never registers itself.
    const fake = join(dir, "leaky");
    writeFileSync(
      fake,
      `#!${process.execPath}
import { closeSync, readSync } from "node:fs";
const argv = process.argv;
const proxyAddr = argv[argv.indexOf("--proxy-addr") + 1];
let token = process.env.PRISM_LAUNCH_TOKEN ?? "";
const fd = process.env.PRISM_LAUNCH_TOKEN_FD;
if (token === "" && fd !== undefined) {
  const buf = Buffer.alloc(1024);
  let n = 0;
  for (let r; (r = readSync(Number(fd), buf, n, buf.length - n, null)) > 0; ) n += r;
  closeSync(Number(fd));
  token = buf.subarray(0, n).toString();
}
Bun.spawn([process.execPath, ${JSON.stringify(thief)}, proxyAddr, token, String(process.pid)], { stdout: "inherit", stderr: "inherit" });
setInterval(() => {}, 1 << 30);
`,
    );
    chmodSync(fake, 0o755);
    const config = join(dir, "proxy.yaml");
    writeFileSync(config, "namespaces: [{ name: default, pattern: leaky, settings: { start_timeout: 20s } }]\n");
    const proxy = startProcess([`${ROOT}/dist/proxy`, "--config", config, "--listen", "127.0.0.1:0", "--admin-port", "0", "--patterns-dir", dir]);
    stops.push(() => proxy.stop());
    await eventually(() => existsSync(result) && readFileSync(result, "utf8").endsWith("}"), "the thief's answer", 20_000);
    const answer = JSON.parse(readFileSync(result, "utf8")) as { success: boolean; error: string; tokenLength: number };
    // It did hold the real secret, and was refused all the same.
    expect(answer.tokenLength).toBe(43);
    expect(answer).toMatchObject({ success: false, error: "registration refused" });
    await eventually(() => /registration as memstore refused: .*pid/.test(proxy.output()), "the audit line naming the pid");
  });
});
