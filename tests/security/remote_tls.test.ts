/**
 * A pattern run on its own serving TLS with client certificates required, and the
 * proxy reaching it (address:) over mTLS with the namespace's tls: settings.
 */
import { afterAll, beforeAll, describe, expect, test, setDefaultTimeout } from "bun:test";
import { writeFileSync } from "node:fs";
import { Code } from "../../sdk/grpc/errors";
import { startPattern, type StartedPattern } from "../helpers/process";
import { clientsFor, eventually, startProxy, text, utf8 } from "../proxy/harness";
import { channel, codeOf, securedClients } from "./clients";
import { makePki, type Pki } from "./pki";

// Processes start and stop here; a loaded 2-core machine can take seconds for that.
setDefaultTimeout(30_000);

let pki: Pki;
let pattern: StartedPattern;
let port: string;
const stops: (() => unknown)[] = [];

beforeAll(async () => {
  pki = makePki();
  pki.issue("pattern", "localhost");
  pki.issue("proxy-client", "prism-proxy", { client: true });
  writeFileSync(
    pki.path("memstore.yaml"),
    `security:\n  tls: { cert_file: ${pki.path("pattern.crt")}, key_file: ${pki.path("pattern.key")}, client_ca_file: ${pki.path("ca.crt")} }\n`,
  );
  pattern = await startPattern("memstore", ["--config", pki.path("memstore.yaml")]);
  port = pattern.address.split(":").pop()!;
});

afterAll(async () => {
  for (const s of stops.reverse()) await s();
  await pattern?.stop();
  pki?.cleanup();
});

describe("proxy → remote pattern over mTLS", () => {
  test("with the namespace's CA and client certificate, calls flow", async () => {
    const proxy = await startProxy(`
namespaces:
  - name: r
    address: "localhost:${port}"
    tls: { ca_file: ${pki.path("ca.crt")}, cert_file: ${pki.path("proxy-client.crt")}, key_file: ${pki.path("proxy-client.key")} }
`);
    stops.push(
      () => proxy.cleanup(),
      () => proxy.stop(),
    );
    await eventually(async () => (await proxy.pattern("r")).status === "serving", "remote serving over mTLS");
    const c = clientsFor(proxy.address, "r");
    stops.push(() => c.close());
    await c.kv.set({ key: "k", value: utf8("over mTLS") }, c.opts());
    expect(text((await c.kv.get({ key: "k" }, c.opts())).value)).toBe("over mTLS");
  });

  test("without a client certificate the proxy cannot reach it; neither can a plaintext client", async () => {
    const proxy = await startProxy(`
namespaces:
  - name: r
    address: "localhost:${port}"
    tls: { ca_file: ${pki.path("ca.crt")} }
    settings: { health_interval: 200ms }
`);
    stops.push(
      () => proxy.cleanup(),
      () => proxy.stop(),
    );
    const c = clientsFor(proxy.address, "r");
    stops.push(() => c.close());
    expect(await codeOf(() => c.kv.get({ key: "k" }, c.opts()))).toBe(Code.UNAVAILABLE);
    expect((await proxy.pattern("r")).status).not.toBe("serving");
    const plain = securedClients(channel(`localhost:${port}`), {});
    stops.push(() => plain.close());
    expect(await codeOf(() => plain.kv.get({ key: "k" }, { timeoutMs: 3_000 }))).toBe(Code.UNAVAILABLE);
  });
});
