/**
 * Test-time certificates and JWT keys (issue 11): a CA, server and client
 * certificates signed by it, an expired one, one from another CA, made with the
 * openssl CLI in a temporary directory; ES256 JWKS and tokens made with jose.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { exportJWK, generateKeyPair, SignJWT, type JWTPayload } from "jose";

export interface Pki {
  readonly dir: string;
  /** Path of a file in the directory. */
  path(name: string): string;
  /** Issues `<name>.crt` / `<name>.key` for CN, signed by `ca` (default "ca"); days 0 = already expired. */
  issue(name: string, cn: string, opts?: { ca?: string; days?: number; san?: string; client?: boolean }): void;
  /** A new self-signed CA `<name>.crt` / `<name>.key`. */
  ca(name: string): void;
  cleanup(): void;
}

export function makePki(): Pki {
  const dir = mkdtempSync(join(tmpdir(), "prism-pki-"));
  const ssl = (...args: string[]) => execFileSync("openssl", args, { cwd: dir, stdio: "pipe" });
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  const pki: Pki = {
    dir,
    path: (name) => join(dir, name),
    ca(name) {
      ssl("req", "-x509", ...ec, "-keyout", `${name}.key`, "-out", `${name}.crt`, "-days", "2", "-subj", `/CN=${name} test CA`);
    },
    issue(name, cn, opts = {}) {
      const ca = opts.ca ?? "ca";
      ssl("req", ...ec, "-keyout", `${name}.key`, "-out", `${name}.csr`, "-subj", `/CN=${cn}`);
      const ext = opts.client ? "extendedKeyUsage=clientAuth\n" : `subjectAltName=${opts.san ?? "DNS:localhost,IP:127.0.0.1"}\nextendedKeyUsage=serverAuth\n`;
      writeFileSync(join(dir, `${name}.ext`), ext);
      ssl(
        "x509",
        "-req",
        "-in",
        `${name}.csr`,
        "-CA",
        `${ca}.crt`,
        "-CAkey",
        `${ca}.key`,
        "-CAcreateserial",
        "-out",
        `${name}.crt`,
        "-days",
        String(opts.days ?? 2),
        "-extfile",
        `${name}.ext`,
      );
    },
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
  pki.ca("ca");
  return pki;
}

/** An ES256 signing key, its JWKS (written to `file`), and a token maker. */
export async function makeJwtIssuer(file: string, kid = "k1") {
  const { privateKey, publicKey } = await generateKeyPair("ES256", { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid, alg: "ES256", use: "sig" };
  writeFileSync(file, JSON.stringify({ keys: [jwk] }));
  const sign = (claims: JWTPayload, opts: { iss?: string; aud?: string; expSeconds?: number; key?: CryptoKey; kid?: string } = {}) =>
    new SignJWT(claims)
      .setProtectedHeader({ alg: "ES256", kid: opts.kid ?? kid })
      .setIssuer(opts.iss ?? "https://issuer.test")
      .setAudience(opts.aud ?? "prism")
      .setIssuedAt()
      .setExpirationTime(Math.floor(Date.now() / 1000) + (opts.expSeconds ?? 600))
      .sign(opts.key ?? privateKey);
  return { sign, privateKey };
}

/** An unsigned token (`alg: none`) with these claims. */
export function unsignedToken(claims: JWTPayload): string {
  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString("base64url");
  return `${b64({ alg: "none", typ: "JWT" })}.${b64(claims)}.`;
}
