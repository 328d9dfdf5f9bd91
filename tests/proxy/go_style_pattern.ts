/**
 * An in-process stand-in for a pattern built on the original Go SDK, as a remote (`address:`) namespace: it
 * declares its interfaces by short name ("KeyValueBasicInterface") in PatternMetadata and reports some failures
 * in OK replies (success=false, error set) instead of a gRPC status, as that SDK's patterns do.
 */
import * as grpc from "@grpc/grpc-js";
import { KeyValueBasicInterface } from "../../proto/gen/prism/interfaces/keyvalue/keyvalue_basic_pb";
import { HealthStatus, LifecycleInterface } from "../../proto/gen/prism/interfaces/lifecycle_pb";
import { KeyValuePattern } from "../../proto/gen/prism/patterns/keyvalue/keyvalue_pattern_pb";
import { unimplemented } from "../../sdk/errors";
import { addService } from "../../sdk/grpc/server";
import { bindServer, serverOptions } from "../../sdk/grpc/server_factory";

export interface GoStylePattern {
  readonly address: string;
  /** While true every write and read is refused in the reply body, whatever the key. */
  failAll: boolean;
  stop(): void;
}

const enc = new TextEncoder();
const FULL = "disk full";

/** Keys starting with "fail" are refused in the reply body (success=false / error set); others succeed. */
export async function startGoStylePattern(): Promise<GoStylePattern> {
  const server = new grpc.Server(serverOptions);
  const self = { failAll: false };
  const refused = (key: string) => self.failAll || key.startsWith("fail");
  const data = new Map<string, Uint8Array>();
  addService(server, LifecycleInterface, {
    initialize: () => ({
      success: true,
      metadata: {
        name: "go-keyvalue",
        version: "0.9.0",
        interfaces: [
          { name: "KeyValueBasicInterface", protoFile: "prism/interfaces/keyvalue/keyvalue_basic.proto", version: "v1" },
          { name: "KeyValuePattern", protoFile: "prism/patterns/keyvalue/keyvalue_pattern.proto", version: "v1" },
        ],
      },
    }),
    start: () => ({ success: true }),
    healthCheck: () => ({ status: HealthStatus.HEALTHY, message: "", details: {} }),
    drain: () => ({ success: true }),
    stop: () => ({ success: true }),
  });
  addService(server, KeyValueBasicInterface, {
    set: (req) => {
      if (refused(req.key)) return { success: false, error: FULL };
      data.set(req.key, req.value);
      return { success: true };
    },
    get: (req) => (refused(req.key) ? { found: false, error: FULL } : { found: data.has(req.key), value: data.get(req.key) ?? enc.encode("") }),
    delete: (req) => ({ success: data.delete(req.key) || true }),
    exists: (req) => ({ exists: data.has(req.key) }),
  });
  addService(server, KeyValuePattern, {
    getCapabilities: () => ({ supportsScan: false, slots: { primaryBackendType: "go-memory", primaryInterfaces: ["KeyValueBasicInterface"] } }),
    store: (req) => {
      if (refused(req.key)) return { success: false, error: FULL };
      data.set(req.key, req.value);
      return { success: true };
    },
    retrieve: (req) => (refused(req.key) ? { found: false, error: FULL } : { found: data.has(req.key), value: data.get(req.key) ?? enc.encode("") }),
    delete: (req) => ({ found: data.delete(req.key), success: true }),
    exists: (req) => ({ exists: data.has(req.key) }),
    scan: async function* () {},
    storeBatch: () => ({ allSuccess: false }),
    retrieveBatch: () => ({}),
    deleteBatch: () => ({}),
    setExpiration: () => ({ success: false, error: "expiration not supported" }),
    getExpiration: () => ({ expirationSeconds: -2n }),
    count: () => ({ count: BigInt(data.size) }),
    storeStream: () => {
      throw unimplemented("StoreStream not supported by this test pattern");
    },
    // biome-ignore lint/correctness/useYield: answers UNIMPLEMENTED before any message
    async *retrieveStream() {
      throw unimplemented("RetrieveStream not supported by this test pattern");
    },
  });
  const port = await bindServer(server, "127.0.0.1", 0);
  return Object.assign(self, { address: `127.0.0.1:${port}`, stop: () => server.forceShutdown() });
}
