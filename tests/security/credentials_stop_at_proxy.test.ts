/** Credentials end at the proxy (issue 11): the pattern never receives the caller's bearer token or API key. */
import { afterAll, expect, setDefaultTimeout, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { hashApiKey } from "../../proxy/security/authn";
import { startFakePattern } from "../proxy/fake_pattern";
import { eventually, startProxy } from "../proxy/harness";
import { channel, codeOf, securedClients } from "./clients";
import { makeJwtIssuer, makePki } from "./pki";

// Processes start and stop here; a loaded 2-core machine can take seconds for that.
setDefaultTimeout(30_000);

const pki = makePki();
afterAll(() => pki.cleanup());

test("authorization and x-api-key are removed before the call is relayed; other metadata passes", async () => {
  const issuer = await makeJwtIssuer(pki.path("jwks.json"));
  writeFileSync(pki.path("keys"), `job: sha256:${hashApiKey("job-key-0123456789")}\n`);
  const fake = await startFakePattern();
  const proxy = await startProxy(`
auth:
  jwt: { jwks_file: ${pki.path("jwks.json")}, issuer: "https://issuer.test", audience: prism, algorithms: [ES256] }
  api_keys_file: ${pki.path("keys")}
authz: [{ principals: ["sub:alice", "key:job"], namespaces: [r], allow: [read] }]
namespaces: [{ name: r, address: "${fake.address}" }]
`);
  try {
    await eventually(async () => (await proxy.pattern("r")).status === "serving", "remote serving");
    const token = await issuer.sign({ sub: "alice" });
    const creds: Record<string, string>[] = [{ authorization: `Bearer ${token}` }, { "x-api-key": "job-key-0123456789" }];
    for (const md of creds) {
      const c = securedClients(channel(proxy.address), { "x-prism-namespace": "r", "x-trace-me": "yes", ...md });
      expect(await codeOf(() => c.kv.get({ key: "seen" }, c.opts))).toBe(0);
      c.close();
    }
    const seen = fake.calls.filter((c) => c.key === "seen");
    expect(seen).toHaveLength(2);
    for (const call of seen) {
      expect(call.metadata["x-trace-me"]).toBe("yes");
      expect(call.metadata.authorization).toBeUndefined();
      expect(call.metadata["x-api-key"]).toBeUndefined();
    }
  } finally {
    await proxy.stop();
    proxy.cleanup();
    fake.stop();
  }
});
