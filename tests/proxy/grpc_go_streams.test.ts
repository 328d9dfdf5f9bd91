/**
 * Server streams to a grpc-go client with default settings (issue 18, item 13): grpc-go's BDP estimation raises
 * SETTINGS_INITIAL_WINDOW_SIZE mid-stream, which Bun's node:http2 server mishandles (sdk/grpc/h2_guard.ts). A
 * Scan of 64 entries of 256 KiB delivered 1 entry, then hit its deadline; it must complete, served directly by
 * a pattern (grpc-js) and through the proxy, for every call on a connection; over TLS too (a pattern's
 * `security.tls`, the proxy's `tls` with client certificates, whose subject must still authorize the call).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { create, toBinary } from "@bufbuild/protobuf";
import { ScanRequestSchema } from "../../proto/gen/prism/interfaces/keyvalue/keyvalue_scan_pb";
import { type ConfiguredPattern, configuredPattern, startPattern, type StartedPattern } from "../helpers/process";
import { goCall } from "../interop/go_tools";
import { channel, securedClients, type TlsClientOptions } from "../security/clients";
import { makePki, type Pki } from "../security/pki";
import { startProxy, type StartedProxy } from "./harness";

const SCAN = "/prism.interfaces.keyvalue.KeyValueScanInterface/Scan";
const ENTRIES = 64;
const VALUE_BYTES = 256 * 1024;

async function fill(address: string, namespace?: string, tls?: TlsClientOptions): Promise<void> {
  const c = securedClients(channel(address, tls), namespace ? { "x-prism-namespace": namespace } : {});
  try {
    for (let i = 0; i < ENTRIES; i++) {
      await c.kv.set({ key: `scan/${String(i).padStart(2, "0")}`, value: new Uint8Array(VALUE_BYTES).fill(i) }, c.opts);
    }
  } finally {
    c.close();
  }
}

async function expectCompleteScans(address: string, metadata: Record<string, string> = {}, tls?: { ca: string; cert?: string; key?: string }): Promise<void> {
  const request = toBinary(ScanRequestSchema, create(ScanRequestSchema, { prefix: "scan/" }));
  // Two connections, two Scans each: the second call on a connection opens its stream after the raise.
  const results = await goCall(address, SCAN, request, { stream: true, metadata, timeoutMs: 15_000, repeat: 2, calls: 2, tls });
  expect(results.map((r) => [r.code, r.message, r.messages])).toEqual(Array(4).fill([0, "", ENTRIES]));
}

describe("a grpc-go client reads a 16 MiB server stream", () => {
  let memstore: StartedPattern;
  let proxy: StartedProxy;
  beforeAll(async () => {
    memstore = await startPattern("memstore");
    proxy = await startProxy("namespaces:\n  - name: default\n    pattern: memstore\n");
    await Promise.all([fill(memstore.address), fill(proxy.address, "default")]);
  }, 60_000);
  afterAll(async () => {
    await proxy?.stop(20_000);
    proxy?.cleanup();
    await memstore?.stop();
  });

  test("from a pattern served directly", async () => {
    await expectCompleteScans(memstore.address);
  }, 60_000);

  test("through the proxy", async () => {
    await expectCompleteScans(proxy.address, { "x-prism-namespace": "default" });
  }, 60_000);
});

describe("a grpc-go client reads a 16 MiB server stream over TLS", () => {
  let pki: Pki;
  let memstore: ConfiguredPattern;
  let proxy: StartedProxy;
  const alice = () => ({ ca: pki.path("ca.crt"), cert: pki.path("alice.crt"), key: pki.path("alice.key") });
  beforeAll(async () => {
    pki = makePki();
    pki.issue("server", "localhost");
    pki.issue("alice", "alice", { client: true });
    memstore = await configuredPattern("memstore", { security: { tls: { cert_file: pki.path("server.crt"), key_file: pki.path("server.key") } } });
    // Client certificates required, and the only grant is to alice's certificate: the call must still be
    // authorized by the subject of the certificate the guarded connection carries.
    proxy = await startProxy(`
tls: { cert_file: ${pki.path("server.crt")}, key_file: ${pki.path("server.key")}, client_ca_file: ${pki.path("ca.crt")} }
auth: {}
authz:
  - { principals: ["cert:alice"], namespaces: [default], allow: [read, write] }
namespaces:
  - { name: default, pattern: memstore }
`);
    await Promise.all([fill(memstore.address, undefined, { ca: pki.path("ca.crt") }), fill(proxy.address, "default", alice())]);
  }, 60_000);
  afterAll(async () => {
    await proxy?.stop(20_000);
    proxy?.cleanup();
    await memstore?.close();
    pki?.cleanup();
  });

  test("from a pattern served directly (security.tls)", async () => {
    await expectCompleteScans(memstore.address, {}, { ca: pki.path("ca.crt") });
  }, 60_000);

  test("through the proxy (tls with client certificates)", async () => {
    await expectCompleteScans(proxy.address, { "x-prism-namespace": "default" }, alice());
  }, 60_000);
});
