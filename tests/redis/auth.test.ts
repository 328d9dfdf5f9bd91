import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { HealthStatus } from "../../proto/gen/prism/interfaces/lifecycle_pb";
import { Code } from "../../sdk/grpc/errors";
import { failureCode, freePort, startOwnRedis, startRedisPattern, str, text, uniqueNamespace, type OwnRedis, type RedisPattern } from "./harness";
import { FAST_RECOVERY } from "./target";

const started: { stop(): Promise<void> }[] = [];
async function pattern(config: Record<string, unknown>): Promise<RedisPattern> {
  const p = await startRedisPattern({ namespace: uniqueNamespace("auth"), ...FAST_RECOVERY, ...config });
  started.push(p);
  return p;
}

afterAll(async () => {
  const errors: unknown[] = [];
  for (const s of started.reverse()) await s.stop().catch((err: unknown) => errors.push(err));
  if (errors.length > 0) throw errors[0];
});

async function roundTrip(p: RedisPattern): Promise<string> {
  await p.clients.kv.set({ key: "k", value: text("secret value") });
  return str((await p.clients.kv.get({ key: "k" })).value);
}

describe("password", () => {
  let own: OwnRedis;
  beforeAll(async () => {
    own = await startOwnRedis({ args: () => ["--requirepass", "s3cret"] });
    started.push({ stop: () => own.destroy() });
  });

  test("the password from config, or from a redis:// URL, is used", async () => {
    expect(await roundTrip(await pattern({ address: own.address, password: "s3cret" }))).toBe("secret value");
    expect(await roundTrip(await pattern({ address: `redis://:s3cret@${own.address}/2` }))).toBe("secret value");
  });

  test("a wrong password: calls UNAVAILABLE, health UNHEALTHY saying why", async () => {
    const p = await pattern({ address: own.address, password: "wrong" });
    expect(await failureCode(p.clients.kv.get({ key: "k" }))).toBe(Code.UNAVAILABLE);
    const h = await p.clients.lifecycle.healthCheck({});
    expect(h.status).toBe(HealthStatus.UNHEALTHY);
    expect(h.message).toMatch(/WRONGPASS|invalid username-password/);
  });
});

describe("ACL user and password from files (contract §4 secrets)", () => {
  let own: OwnRedis;
  let dir: string;
  const PASSWORD = "acl-pw-from-file-7f3a9c";
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "prism-redis-secret-"));
    started.push({ stop: async () => rmSync(dir, { recursive: true, force: true }) });
    writeFileSync(join(dir, "user"), "prism-app\n");
    writeFileSync(join(dir, "password"), `${PASSWORD}\n`);
    // The default user is off: only prism-app with its password gets in.
    own = await startOwnRedis({ args: () => ["--user", "default", "off", "--user", "prism-app", "on", `>${PASSWORD}`, "~*", "&*", "+@all"] });
    started.push({ stop: () => own.destroy() });
  });

  test("username and password come from files; the password never shows in logs or status messages", async () => {
    const p = await pattern({ address: own.address, username: { file: join(dir, "user") }, password: { file: join(dir, "password") } });
    expect(await roundTrip(p)).toBe("secret value");
    expect(p.proc.output()).not.toContain(PASSWORD);
  });

  test("a wrong password from env: UNAVAILABLE and unhealthy, and neither message nor log carries it", async () => {
    process.env.PRISM_TEST_REDIS_WRONG_PW = "wrong-pw-from-env-81c2";
    const p = await pattern({ address: `redis://prism-app:${"wrong-pw-in-url-55d1"}@${own.address}`, password: { env: "PRISM_TEST_REDIS_WRONG_PW" } });
    const code = await failureCode(p.clients.kv.get({ key: "k" }));
    expect(code).toBe(Code.UNAVAILABLE);
    const h = await p.clients.lifecycle.healthCheck({});
    expect(h.status).toBe(HealthStatus.UNHEALTHY);
    const seen = `${h.message}\n${JSON.stringify(h.details)}\n${p.proc.output()}`;
    expect(seen).not.toContain("wrong-pw-from-env-81c2");
    expect(seen).not.toContain("wrong-pw-in-url-55d1");
  });
});

describe("TLS", () => {
  let own: OwnRedis;
  let certs: string;
  let tlsAddress: string;
  beforeAll(async () => {
    certs = mkdtempSync(join(tmpdir(), "prism-redis-tls-"));
    started.push({ stop: async () => rmSync(certs, { recursive: true, force: true }) });
    const ssl = (...args: string[]) => execFileSync("openssl", args, { cwd: certs, stdio: "pipe" });
    ssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "1", "-subj", "/CN=prism-test-ca");
    ssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "node.key", "-out", "node.csr", "-subj", "/CN=localhost");
    writeFileSync(join(certs, "san.ext"), "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
    ssl("x509", "-req", "-in", "node.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out", "node.crt", "-days", "1", "-extfile", "san.ext");
    const tlsPort = await freePort();
    // Plain port off, TLS with client certificates required.
    own = await startOwnRedis({
      args: () => [
        "--port",
        "0",
        "--tls-port",
        String(tlsPort),
        "--tls-cert-file",
        join(certs, "node.crt"),
        "--tls-key-file",
        join(certs, "node.key"),
        "--tls-ca-cert-file",
        join(certs, "ca.crt"),
        "--tls-auth-clients",
        "yes",
      ],
    });
    started.push({ stop: () => own.destroy() });
    tlsAddress = `127.0.0.1:${tlsPort}`;
  });

  test("tls with a CA and a client certificate reaches a TLS-only Redis", async () => {
    const tls = { ca: join(certs, "ca.crt"), cert: join(certs, "node.crt"), key: join(certs, "node.key"), servername: "localhost" };
    expect(await roundTrip(await pattern({ address: tlsAddress, tls }))).toBe("secret value");
  });

  test("without TLS settings the pattern stays UNAVAILABLE and unhealthy", async () => {
    const p = await pattern({ address: tlsAddress });
    expect(await failureCode(p.clients.kv.get({ key: "k" }))).toBe(Code.UNAVAILABLE);
    expect((await p.clients.lifecycle.healthCheck({})).status).toBe(HealthStatus.UNHEALTHY);
  });
});
