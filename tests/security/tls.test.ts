/**
 * TLS and mTLS on the proxy's client listener (issue 11) with certificates made at
 * test time: good handshakes, an expired certificate, the wrong CA, the wrong host
 * name, no client certificate; the client certificate's subject as principal; and
 * certificates reloaded from disk without dropping open connections.
 */
import { afterAll, beforeAll, describe, expect, test, setDefaultTimeout } from "bun:test";
import { copyFileSync } from "node:fs";
import { Code } from "../../sdk/grpc/errors";
import { eventually, startProxy, type StartedProxy } from "../proxy/harness";
import { channel, codeOf, securedClients, type TlsClientOptions } from "./clients";
import { makePki, type Pki } from "./pki";

// Processes start and stop here; a loaded 2-core machine can take seconds for that.
setDefaultTimeout(30_000);

const enc = (s: string) => new TextEncoder().encode(s);
let pki: Pki;
let proxy: StartedProxy;
const open: { close(): void }[] = [];

beforeAll(async () => {
  pki = makePki();
  pki.ca("other-ca");
  pki.issue("server", "localhost");
  pki.issue("live", "localhost"); // the files the proxy reads; replaced during the reload test
  pki.issue("server-expired", "localhost", { days: 0 });
  pki.issue("server-otherhost", "db.example", { san: "DNS:db.example" });
  pki.issue("alice", "alice", { client: true });
  pki.issue("mallory", "alice", { client: true, ca: "other-ca" });
  pki.issue("alice-expired", "alice", { client: true, days: 0 });
  pki.issue("bob", "bob", { client: true });
  await Bun.sleep(1_100); // days 0: notAfter = now; let it pass
  proxy = await startProxy(`
tls: { cert_file: ${pki.path("live.crt")}, key_file: ${pki.path("live.key")}, client_ca_file: ${pki.path("ca.crt")} }
auth: {}
authz:
  - { principals: ["cert:alice"], namespaces: [a], allow: [read, write] }
namespaces:
  - { name: a, pattern: memstore }
`);
});

afterAll(async () => {
  for (const c of open) c.close();
  await proxy?.stop();
  proxy?.cleanup();
  pki?.cleanup();
});

function client(tls: TlsClientOptions, namespace = "a") {
  const c = securedClients(channel(proxy.address, tls), { "x-prism-namespace": namespace });
  open.push(c);
  return c;
}
const as = (name: string, extra: Partial<TlsClientOptions> = {}) =>
  client({ ca: pki.path("ca.crt"), cert: pki.path(`${name}.crt`), key: pki.path(`${name}.key`), ...extra });
const set = (c: ReturnType<typeof client>) => codeOf(() => c.kv.set({ key: "k", value: enc("v") }, { ...c.opts, timeoutMs: 5_000 }));

describe("mTLS handshakes", () => {
  test("a client certificate from the CA: cert:<CN> is the principal", async () => {
    expect(await set(as("alice"))).toBe(0);
    // bob's certificate is good, but no rule names cert:bob.
    expect(await set(as("bob"))).toBe(Code.PERMISSION_DENIED);
  });

  test("no client certificate, one from another CA, an expired one: no connection", async () => {
    expect(await set(client({ ca: pki.path("ca.crt") }))).toBe(Code.UNAVAILABLE);
    expect(await set(as("mallory"))).toBe(Code.UNAVAILABLE);
    expect(await set(as("alice-expired"))).toBe(Code.UNAVAILABLE);
  });

  test("the client refuses a server it cannot verify: wrong CA, wrong host name", async () => {
    expect(await set(as("alice", { ca: pki.path("other-ca.crt") }))).toBe(Code.UNAVAILABLE);
    expect(await set(as("alice", { serverName: "db.example" }))).toBe(Code.UNAVAILABLE);
  });

  test("plaintext to a TLS listener fails", async () => {
    const c = securedClients(channel(proxy.address), { "x-prism-namespace": "a" });
    open.push(c);
    expect(await set(c)).toBe(Code.UNAVAILABLE);
  });
});

describe("certificate reload", () => {
  test("new files apply to new connections; an open connection keeps working", async () => {
    const kept = as("alice");
    expect(await set(kept)).toBe(0);
    // An expired certificate goes in: new clients refuse the server, the open connection carries on.
    copyFileSync(pki.path("server-expired.key"), pki.path("live.key"));
    copyFileSync(pki.path("server-expired.crt"), pki.path("live.crt"));
    await eventually(async () => (await set(as("alice"))) === Code.UNAVAILABLE, "the expired certificate is served", 15_000, 300);
    expect(await set(kept)).toBe(0);
    // A certificate for another host name: refused by name.
    copyFileSync(pki.path("server-otherhost.key"), pki.path("live.key"));
    copyFileSync(pki.path("server-otherhost.crt"), pki.path("live.crt"));
    await eventually(async () => (await set(as("alice", { serverName: "db.example" }))) === 0, "the db.example certificate is served", 15_000, 300);
    expect(await set(as("alice"))).toBe(Code.UNAVAILABLE);
    // The good one back: new connections work again, and the first connection never dropped.
    copyFileSync(pki.path("server.key"), pki.path("live.key"));
    copyFileSync(pki.path("server.crt"), pki.path("live.crt"));
    await eventually(async () => (await set(as("alice"))) === 0, "the renewed certificate is served", 15_000, 300);
    expect(await set(kept)).toBe(0);
    expect(proxy.output()).toContain("TLS certificates reloaded");
  });
});
