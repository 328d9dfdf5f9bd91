/**
 * A remote pattern serving mTLS, given to the proxy by IP address (`address: 127.0.0.1:PORT`): the proxy connects
 * by IP and checks the pattern's certificate against its IP subject alternative name, and refuses a certificate
 * that does not name that IP.
 */
import { afterAll, beforeAll, describe, expect, setDefaultTimeout, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { startPattern, type StartedPattern } from "../helpers/process";
import { makePki, type Pki } from "../security/pki";
import { clientsFor, eventually, startProxy, text, utf8 } from "./harness";

setDefaultTimeout(30_000);

let pki: Pki;
const patterns: StartedPattern[] = [];
const stops: (() => unknown)[] = [];

async function tlsMemstore(cert: string): Promise<string> {
  writeFileSync(
    pki.path(`${cert}.yaml`),
    `security:\n  tls: { cert_file: ${pki.path(`${cert}.crt`)}, key_file: ${pki.path(`${cert}.key`)}, client_ca_file: ${pki.path("ca.crt")} }\n`,
  );
  const p = await startPattern("memstore", ["--config", pki.path(`${cert}.yaml`)]);
  patterns.push(p);
  return p.address.split(":").pop()!;
}

beforeAll(() => {
  pki = makePki();
  pki.issue("by-ip", "pattern", { san: "IP:127.0.0.1" });
  pki.issue("other-ip", "pattern", { san: "IP:10.9.8.7" });
  pki.issue("proxy-client", "prism-proxy", { client: true });
});

afterAll(async () => {
  for (const s of stops.reverse()) await s();
  for (const p of patterns) await p.stop();
  pki?.cleanup();
});

function tlsBlock(): string {
  return `{ ca_file: ${pki.path("ca.crt")}, cert_file: ${pki.path("proxy-client.crt")}, key_file: ${pki.path("proxy-client.key")} }`;
}

describe("a TLS remote pattern given by IP address", () => {
  test("comes up, its certificate checked against the IP SAN, and calls flow", async () => {
    const port = await tlsMemstore("by-ip");
    const proxy = await startProxy(`
namespaces:
  - name: r
    address: "127.0.0.1:${port}"
    tls: ${tlsBlock()}
`);
    stops.push(
      () => proxy.cleanup(),
      () => proxy.stop(),
    );
    await eventually(async () => (await proxy.pattern("r")).status === "serving", "remote serving over mTLS by IP", 10_000);
    const c = clientsFor(proxy.address, "r");
    stops.push(() => c.close());
    await c.kv.set({ key: "k", value: utf8("by IP") }, c.opts());
    expect(text((await c.kv.get({ key: "k" }, c.opts())).value)).toBe("by IP");
  });

  test("a certificate naming another IP is refused", async () => {
    const port = await tlsMemstore("other-ip");
    const proxy = await startProxy(`
namespaces:
  - name: r
    address: "127.0.0.1:${port}"
    tls: ${tlsBlock()}
    settings: { health_interval: 200ms }
`);
    stops.push(
      () => proxy.cleanup(),
      () => proxy.stop(),
    );
    await eventually(async () => (await proxy.pattern("r")).last_error !== null, "the proxy reports why", 10_000);
    const p = await proxy.pattern("r");
    expect(p.status).not.toBe("serving");
    // Refused for the certificate, not for the way the proxy dialled.
    expect(p.last_error).toContain("10.9.8.7");
    expect(p.last_error).not.toContain("ServerName");
  });
});
