/**
 * The authenticator in-process (tests/security/ covers it end to end through dist/proxy): API keys stored hashed,
 * JWTs verified against a local JWKS (jose; keys made here), the per-token cache, and the failure reasons.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { createLogger } from "../../sdk/observability/logger";
import { AuthFailure, Authenticator, type AuthnConfig, hashApiKey, type Identity, parseApiKeys } from "./authn";

const quiet = createLogger({ level: "error", write: () => {} });
const dir = mkdtempSync(join(tmpdir(), "prism-authn-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const { privateKey, publicKey } = await generateKeyPair("ES256");
const jwks = join(dir, "jwks.json");
writeFileSync(jwks, JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: "k1", alg: "ES256", use: "sig" }] }));
const jwtConfig: AuthnConfig["jwt"] = { jwksFile: jwks, issuer: "https://issuer.test", audience: ["prism"], algorithms: ["ES256"], clockSkewS: 5 };

const token = (claims: Record<string, unknown>, exp: string | number = "5m") =>
  new SignJWT(claims)
    .setProtectedHeader({ alg: "ES256", kid: "k1" })
    .setIssuer("https://issuer.test")
    .setAudience("prism")
    .setExpirationTime(exp)
    .sign(privateKey);

const failure = async (r: Identity | AuthFailure | Promise<Identity | AuthFailure>) => {
  const v = await r;
  expect(v).toBeInstanceOf(AuthFailure);
  return v as AuthFailure;
};
const identity = async (r: Identity | AuthFailure | Promise<Identity | AuthFailure>) => {
  const v = await r;
  if (v instanceof AuthFailure) throw new Error(`not authenticated: ${v.reason}`);
  return v;
};

describe("API keys", () => {
  test("entries are name: sha256:<hex>, newline or comma separated, with comments; the key itself is refused", () => {
    const h = hashApiKey("s3cret");
    expect(h).toMatch(/^[0-9a-f]{64}$/);
    const keys = parseApiKeys(`# team keys\nbatch: sha256:${h}\nother=${hashApiKey("x").toUpperCase()}, third ${hashApiKey("y")}`, "keys");
    expect([...keys.values()]).toEqual(["batch", "other", "third"]);
    expect(keys.get(h)).toBe("batch");
    expect(() => parseApiKeys("batch: s3cret", "keys.txt")).toThrow("keys.txt");
  });

  test("a known key is the principal key:<name>; an unknown one, or none configured, fails", async () => {
    const file = join(dir, "keys.txt");
    writeFileSync(file, `batch: sha256:${hashApiKey("s3cret")}\n`);
    const a = new Authenticator({ apiKeysFile: file, clientCertificates: false }, quiet);
    try {
      expect((await identity(a.authenticate(undefined, { "x-api-key": "s3cret" }))).principals).toEqual(["key:batch"]);
      expect((await failure(a.authenticate(undefined, { "x-api-key": "wrong" }))).reason).toContain("unknown or revoked");
      const none = await failure(a.authenticate(undefined, {}));
      expect(none.missing).toBe(true);
    } finally {
      a.close();
    }
    const noKeys = new Authenticator({ clientCertificates: false }, quiet);
    expect((await failure(noKeys.authenticate(undefined, { "x-api-key": "s3cret" }))).reason).toContain("no API keys are configured");
  });

  test("keys from an environment variable; a missing variable is an error naming it", () => {
    process.env.PRISM_TEST_AUTHN_KEYS = `ci: sha256:${hashApiKey("k")}`;
    const a = new Authenticator({ apiKeysEnv: "PRISM_TEST_AUTHN_KEYS", clientCertificates: false }, quiet);
    expect(a.authenticate(undefined, { "x-api-key": "k" })).toMatchObject({ principal: "key:ci" });
    delete process.env.PRISM_TEST_AUTHN_KEYS;
    expect(() => new Authenticator({ apiKeysEnv: "PRISM_TEST_AUTHN_KEYS", clientCertificates: false }, quiet)).toThrow("PRISM_TEST_AUTHN_KEYS");
  });
});

describe("JWT bearer tokens", () => {
  const a = new Authenticator({ jwt: jwtConfig, clientCertificates: false }, quiet);
  afterAll(() => a.close());

  test("a valid token gives sub: and claim: principals, cached until it expires", async () => {
    const t = await token({ sub: "alice", team: "payments", roles: ["reader", "writer"], n: 3 });
    const id = await identity(a.authenticate(undefined, { authorization: `Bearer ${t}` }));
    expect(id.principal).toBe("sub:alice");
    expect(id.principals).toEqual(expect.arrayContaining(["sub:alice", "claim:team=payments", "claim:roles=reader", "claim:roles=writer", "claim:n=3"]));
    expect(id.expiresAt).toBeGreaterThan(Date.now());
    // Second sight: answered from the cache, synchronously.
    const again = a.authenticate(undefined, { authorization: `Bearer ${t}` });
    expect(again).not.toBeInstanceOf(Promise);
    expect((again as Identity).principal).toBe("sub:alice");
  });

  test("expired, wrong audience, wrong signature, HMAC and malformed headers are refused with a reason", async () => {
    expect(
      (await failure(a.authenticate(undefined, { authorization: `Bearer ${await token({ sub: "a" }, Math.floor(Date.now() / 1000) - 60)}` }))).reason,
    ).toContain("exp");
    const otherAud = await new SignJWT({ sub: "a" })
      .setProtectedHeader({ alg: "ES256", kid: "k1" })
      .setIssuer("https://issuer.test")
      .setAudience("other")
      .setExpirationTime("5m")
      .sign(privateKey);
    expect((await failure(a.authenticate(undefined, { authorization: `Bearer ${otherAud}` }))).reason).toContain("aud");
    const stranger = (await generateKeyPair("ES256")).privateKey;
    const forged = await new SignJWT({ sub: "a" })
      .setProtectedHeader({ alg: "ES256", kid: "k1" })
      .setIssuer("https://issuer.test")
      .setAudience("prism")
      .setExpirationTime("5m")
      .sign(stranger);
    expect((await failure(a.authenticate(undefined, { authorization: `Bearer ${forged}` }))).reason).toContain("rejected");
    const hmac = await new SignJWT({ sub: "a" })
      .setProtectedHeader({ alg: "HS256" })
      .setIssuer("https://issuer.test")
      .setAudience("prism")
      .setExpirationTime("5m")
      .sign(new Uint8Array(32));
    expect((await failure(a.authenticate(undefined, { authorization: `Bearer ${hmac}` }))).reason).toContain("rejected");
    expect((await failure(a.authenticate(undefined, { authorization: "Basic abc" }))).reason).toContain("malformed");
  });

  test("a token together with an API key: both must verify and both principals count", async () => {
    process.env.PRISM_TEST_AUTHN_KEYS2 = `svc: sha256:${hashApiKey("k2")}`;
    const both = new Authenticator({ jwt: jwtConfig, apiKeysEnv: "PRISM_TEST_AUTHN_KEYS2", clientCertificates: false }, quiet);
    try {
      const t = await token({ sub: "bob" });
      const id = await identity(both.authenticate(undefined, { authorization: `Bearer ${t}`, "x-api-key": "k2" }));
      expect(id.principals).toEqual(expect.arrayContaining(["sub:bob", "key:svc"]));
      expect((await failure(both.authenticate(undefined, { authorization: `Bearer ${t}`, "x-api-key": "nope" }))).reason).toContain("API key");
      const noJwt = new Authenticator({ clientCertificates: false }, quiet);
      expect((await failure(noJwt.authenticate(undefined, { authorization: `Bearer ${t}` }))).reason).toContain("no JWT verification");
    } finally {
      both.close();
      delete process.env.PRISM_TEST_AUTHN_KEYS2;
    }
  });

  test("per connection: the same headers on the same session are answered from the connection's cache", async () => {
    const session = {} as never;
    const t = await token({ sub: "carol" });
    const first = await identity(a.authenticate(session, { authorization: `Bearer ${t}` }));
    expect(a.authenticate(session, { authorization: `Bearer ${t}` })).toBe(first);
  });
});
