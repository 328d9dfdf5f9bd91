/**
 * Server streams to a grpc-go client with default settings (issue 18, item 13): grpc-go's BDP estimation raises
 * SETTINGS_INITIAL_WINDOW_SIZE mid-stream, which Bun's node:http2 server mishandles (sdk/grpc/h2_guard.ts). A
 * Scan of 64 entries of 256 KiB delivered 1 entry, then hit its deadline; it must complete, served directly by
 * a pattern (grpc-js) and through the proxy, for every call on a connection.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { create, toBinary } from "@bufbuild/protobuf";
import { ScanRequestSchema } from "../../proto/gen/prism/interfaces/keyvalue/keyvalue_scan_pb";
import { startPattern, type StartedPattern } from "../helpers/process";
import { goCall } from "../interop/go_tools";
import { clientsFor, startProxy, type StartedProxy } from "./harness";

const SCAN = "/prism.interfaces.keyvalue.KeyValueScanInterface/Scan";
const ENTRIES = 64;
const VALUE_BYTES = 256 * 1024;

async function fill(address: string, namespace?: string): Promise<void> {
  const c = clientsFor(address, namespace);
  try {
    for (let i = 0; i < ENTRIES; i++) {
      await c.kv.set({ key: `scan/${String(i).padStart(2, "0")}`, value: new Uint8Array(VALUE_BYTES).fill(i) }, c.opts());
    }
  } finally {
    c.close();
  }
}

async function expectCompleteScans(address: string, metadata: Record<string, string> = {}): Promise<void> {
  const request = toBinary(ScanRequestSchema, create(ScanRequestSchema, { prefix: "scan/" }));
  // Two connections, two Scans each: the second call on a connection opens its stream after the raise.
  const results = await goCall(address, SCAN, request, { stream: true, metadata, timeoutMs: 15_000, repeat: 2, calls: 2 });
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
