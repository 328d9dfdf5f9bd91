/**
 * In-process cost of the proxy's per-call security decision (issue 11): authenticate (cached per connection)
 * + authorize (cached per identity and namespace) for an API key and for a JWT, against no gate at all.
 *   ./node_modules/.bin/bun bench/authz_decision.ts
 */
import { writeFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger } from "../sdk/observability/logger";
import { Authenticator, hashApiKey, type Identity } from "../proxy/security/authn";
import { Authorizer } from "../proxy/security/authz";
import { CLASS_BIT, operationClass } from "../proxy/security/operations";
import { makeJwtIssuer } from "../tests/security/pki";

const dir = mkdtempSync(join(tmpdir(), "prism-authz-bench-"));
writeFileSync(join(dir, "keys"), `bench: sha256:${hashApiKey("k-123456789")}\n`);
const issuer = await makeJwtIssuer(join(dir, "jwks.json"));
const authn = new Authenticator(
  {
    apiKeysFile: join(dir, "keys"),
    jwt: { jwksFile: join(dir, "jwks.json"), issuer: "https://issuer.test", audience: ["prism"], algorithms: ["ES256"], clockSkewS: 5 },
    clientCertificates: false,
  },
  createLogger({ write: () => undefined }),
);
const authz = new Authorizer([
  { principals: ["key:bench", "sub:alice"], namespaces: ["default"], allow: ["read", "write"] },
  { principals: ["claim:team=x"], namespaces: ["team-*"], allow: ["read"] },
]);
const session = {} as never;
const path = "/prism.interfaces.keyvalue.KeyValueBasicInterface/Get";
const N = 1_000_000;
async function time(label: string, headers: Record<string, string>): Promise<void> {
  const first = authn.authenticate(session, headers);
  if (first instanceof Promise) await first;
  let ok = 0;
  const t0 = performance.now();
  for (let i = 0; i < N; i++) {
    const id = authn.authenticate(session, headers) as Identity;
    if ((authz.grants(id, "default") & CLASS_BIT[operationClass(path)!]) !== 0) ok++;
  }
  const ns = ((performance.now() - t0) * 1e6) / N;
  if (ok !== N) throw new Error(`${label}: ${ok} of ${N} allowed`);
  console.log(`${label}: ${ns.toFixed(0)} ns per decision (${N} decisions, cached per connection)`);
}
await time("API key", { "x-api-key": "k-123456789" });
await time("JWT bearer", { authorization: `Bearer ${await issuer.sign({ sub: "alice" })}` });
authn.close();
