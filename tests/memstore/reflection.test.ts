import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { BinaryReader, BinaryWriter, WireType } from "@bufbuild/protobuf/wire";
import * as grpc from "@grpc/grpc-js";
import { startPattern, type StartedPattern } from "../helpers/process";
import { startProxy, type StartedProxy } from "../proxy/harness";

// grpc.reflection.v1 field numbers (reflection.proto): request list_services = 7, file_containing_symbol = 4;
// response file_descriptor_response = 4 {repeated bytes file_descriptor_proto = 1},
// list_services_response = 6 {repeated ServiceResponse service = 1 {string name = 1}}.
const METHOD = "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo";

/** One request on a raw ServerReflectionInfo stream; returns the fields of the one response. */
async function ask(address: string, request: Uint8Array, metadata = new grpc.Metadata()): Promise<Map<number, Uint8Array[]>> {
  const client = new grpc.Client(address, grpc.credentials.createInsecure());
  try {
    const call = client.makeBidiStreamRequest(
      METHOD,
      (b: Uint8Array) => Buffer.from(b),
      (b: Buffer) => new Uint8Array(b),
      metadata,
    );
    call.write(request);
    call.end();
    const responses: Uint8Array[] = [];
    for await (const r of call as AsyncIterable<Uint8Array>) responses.push(r);
    expect(responses.length).toBe(1);
    return lengthDelimitedFields(responses[0]!);
  } finally {
    client.close();
  }
}

/** The length-delimited fields of a message by number (other wire types skipped). */
function lengthDelimitedFields(bytes: Uint8Array): Map<number, Uint8Array[]> {
  const out = new Map<number, Uint8Array[]>();
  const r = new BinaryReader(bytes);
  while (r.pos < r.len) {
    const [no, type] = r.tag();
    if (type !== WireType.LengthDelimited) {
      r.skip(type);
      continue;
    }
    out.set(no, [...(out.get(no) ?? []), r.bytes()]);
  }
  return out;
}

describe("memstore gRPC reflection (grpc.reflection.v1)", () => {
  let p: StartedPattern;
  beforeAll(async () => {
    p = await startPattern("memstore");
  });
  afterAll(async () => {
    expect(await p?.stop()).toBe(0);
  });

  test("lists every data service, lifecycle, health and reflection itself", async () => {
    const res = await ask(p.address, new BinaryWriter().tag(7, WireType.LengthDelimited).string("").finish());
    const list = lengthDelimitedFields(res.get(6)![0]!);
    const names = (list.get(1) ?? []).map((svc) => new TextDecoder().decode(lengthDelimitedFields(svc).get(1)![0]!));
    expect(names.sort()).toEqual(
      [
        "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection",
        "grpc.reflection.v1alpha.ServerReflection",
        "prism.interfaces.LifecycleInterface",
        "prism.interfaces.keyvalue.KeyValueBasicInterface",
        "prism.interfaces.keyvalue.KeyValueBatchInterface",
        "prism.interfaces.keyvalue.KeyValueScanInterface",
        "prism.interfaces.keyvalue.KeyValueTTLInterface",
        "prism.interfaces.list.ListBasicInterface",
        "prism.interfaces.pubsub.PubSubBasicInterface",
        "prism.interfaces.stream.StreamBasicInterface",
        "prism.patterns.keyvalue.KeyValuePattern",
      ].sort(),
    );
  });

  test("returns the file descriptor that defines a service", async () => {
    const symbol = "prism.interfaces.keyvalue.KeyValueBasicInterface";
    const res = await ask(p.address, new BinaryWriter().tag(4, WireType.LengthDelimited).string(symbol).finish());
    const files = (lengthDelimitedFields(res.get(4)![0]!).get(1) ?? []).map((b) => fromBinary(FileDescriptorProtoSchema, b));
    const file = files.find((f) => f.service.some((s) => s.name === "KeyValueBasicInterface"));
    expect(file?.name).toBe("prism/interfaces/keyvalue/keyvalue_basic.proto");
    expect(file?.service[0]?.method.map((m) => m.name)).toEqual(["Set", "Get", "Delete", "Exists"]);
  });
});

const listServices = () => new BinaryWriter().tag(7, WireType.LengthDelimited).string("").finish();
const serviceNames = (res: Map<number, Uint8Array[]>) =>
  (lengthDelimitedFields(res.get(6)![0]!).get(1) ?? []).map((svc) => new TextDecoder().decode(lengthDelimitedFields(svc).get(1)![0]!));

describe("gRPC reflection through the proxy", () => {
  let proxy: StartedProxy;
  beforeAll(async () => {
    proxy = await startProxy(
      [
        "namespaces:",
        "  - { name: default, pattern: memstore }",
        "  - { name: presence, pattern: multicast-registry, slots: { registry: { driver: memstore }, messaging: { driver: memstore } } }",
        "",
      ].join("\n"),
    );
  });
  afterAll(async () => {
    await proxy?.stop();
    proxy?.cleanup();
  });

  test("lists the Multicast Registry service beside the interfaces and describes it (issue 18, item 11)", async () => {
    const names = serviceNames(await ask(proxy.address, listServices()));
    expect(names).toContain("prism.patterns.multicast_registry.MulticastRegistryPattern");
    expect(names).toContain("prism.patterns.keyvalue.KeyValuePattern");
    const symbol = "prism.patterns.multicast_registry.MulticastRegistryPattern";
    const res = await ask(proxy.address, new BinaryWriter().tag(4, WireType.LengthDelimited).string(symbol).finish());
    const files = (lengthDelimitedFields(res.get(4)![0]!).get(1) ?? []).map((b) => fromBinary(FileDescriptorProtoSchema, b));
    const file = files.find((f) => f.service.some((s) => s.name === "MulticastRegistryPattern"));
    expect(file?.name).toBe("prism/patterns/multicast_registry/multicast_registry_pattern.proto");
    expect(file?.service[0]?.method.map((m) => m.name)).toEqual(expect.arrayContaining(["Register", "Enumerate", "Multicast", "Subscribe"]));
  });
});
