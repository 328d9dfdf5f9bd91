/** The proxy's admin port (issue 11): loopback by default, /metrics and /patterns behind a token, HTTPS when configured. */
import { afterAll, expect, test, setDefaultTimeout } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { startProxy } from "../proxy/harness";
import { makePki } from "./pki";

// Processes start and stop here; a loaded 2-core machine can take seconds for that.
setDefaultTimeout(30_000);

const pki = makePki();
afterAll(() => pki.cleanup());

test("token from a file guards /metrics and /patterns over HTTPS; /health and /ready stay open; the token is never printed", async () => {
  pki.issue("admin", "localhost");
  const token = "admin-token-from-file-5c1e2f";
  writeFileSync(pki.path("admin-token"), `${token}\n`);
  // The harness reads /patterns without a token, so this proxy is driven by hand.
  const proxy = await startProxy(`
admin: { token: { file: ${pki.path("admin-token")} }, tls: { cert_file: ${pki.path("admin.crt")}, key_file: ${pki.path("admin.key")} } }
namespaces: [{ name: default, pattern: memstore }]
`);
  try {
    expect(proxy.admin).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const base = proxy.admin.replace("127.0.0.1", "localhost");
    const tls = { ca: readFileSync(pki.path("ca.crt"), "utf8") };
    const get = (path: string, headers: Record<string, string> = {}) => fetch(`${base}${path}`, { headers, tls } as RequestInit);
    expect((await get("/health")).status).toBe(200);
    expect((await get("/ready")).status).toBe(200);
    for (const path of ["/metrics", "/patterns"]) {
      expect((await get(path)).status).toBe(401);
      expect((await get(path, { authorization: "Bearer wrong" })).status).toBe(401);
      expect((await get(path, { authorization: `Bearer ${token}` })).status).toBe(200);
    }
    const patterns = await (await get("/patterns", { authorization: `Bearer ${token}` })).text();
    expect(patterns).toContain('"namespace":"default"');
    expect(patterns).not.toContain(token);
    expect(proxy.output()).not.toContain(token);
  } finally {
    await proxy.stop();
    proxy.cleanup();
  }
});
