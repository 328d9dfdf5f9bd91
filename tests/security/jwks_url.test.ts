/**
 * JWT keys from a JWKS URL (served here), and the start-up warnings of a proxy that
 * listens beyond loopback in plaintext with authentication off.
 */
import { afterAll, expect, test, setDefaultTimeout } from "bun:test";
import { readFileSync } from "node:fs";
import { Code } from "../../sdk/grpc/errors";
import { startProxy } from "../proxy/harness";
import { channel, codeOf, securedClients } from "./clients";
import { makeJwtIssuer, makePki } from "./pki";

// Processes start and stop here; a loaded 2-core machine can take seconds for that.
setDefaultTimeout(30_000);

const pki = makePki();
afterAll(() => pki.cleanup());

test("tokens verify against keys fetched from jwks_url", async () => {
  const issuer = await makeJwtIssuer(pki.path("jwks.json"));
  let fetched = 0;
  const jwks = Bun.serve({
    port: 0,
    hostname: "127.0.0.1",
    fetch: () => {
      fetched++;
      return new Response(readFileSync(pki.path("jwks.json")), { headers: { "content-type": "application/json" } });
    },
  });
  const proxy = await startProxy(`
auth: { jwt: { jwks_url: "http://127.0.0.1:${jwks.port}/jwks.json", issuer: "https://issuer.test", audience: prism, algorithms: [ES256] } }
authz: [{ principals: ["sub:alice"], namespaces: [default], allow: [read, write] }]
namespaces: [{ name: default, pattern: memstore }]
`);
  try {
    const ok = securedClients(channel(proxy.address), { authorization: `Bearer ${await issuer.sign({ sub: "alice" })}` });
    const other = securedClients(channel(proxy.address), { authorization: `Bearer ${await issuer.sign({ sub: "mallory" })}` });
    expect(await codeOf(() => ok.kv.set({ key: "k", value: new Uint8Array([1]) }, ok.opts))).toBe(0);
    expect(await codeOf(() => other.kv.get({ key: "k" }, other.opts))).toBe(Code.PERMISSION_DENIED);
    expect(fetched).toBeGreaterThan(0);
    ok.close();
    other.close();
  } finally {
    await proxy.stop();
    proxy.cleanup();
    jwks.stop(true);
  }
});

test("plaintext and auth off beyond loopback, and an admin port beyond loopback without a token, are warned about", async () => {
  const proxy = await startProxy("admin: { host: 0.0.0.0 }\nnamespaces: [{ name: default, pattern: memstore }]\n", ["--listen", "0.0.0.0:0"]);
  try {
    const out = proxy.output();
    expect(out).toContain("the client listener is plaintext on a non-loopback address");
    expect(out).toContain("authentication is off");
    expect(out).toContain("the admin port listens beyond loopback without a token");
  } finally {
    await proxy.stop();
    proxy.cleanup();
  }
});
