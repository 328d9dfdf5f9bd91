import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import * as grpc from "@grpc/grpc-js";
import { ServerReflection as V1 } from "../../proto/gen/grpc/reflection/v1/reflection_pb";
import { ServerReflection as V1Alpha } from "../../proto/gen/grpc/reflection/v1alpha/reflection_pb";
import { KeyValueBatchInterface } from "../../proto/gen/prism/interfaces/keyvalue/keyvalue_batch_pb";
import { LifecycleInterface } from "../../proto/gen/prism/interfaces/lifecycle_pb";
import { createClient } from "./client";
import { addReflection } from "./reflection";
import { bindServer, serverOptions } from "./server_factory";

const server = new grpc.Server(serverOptions);
let address = "";
beforeAll(async () => {
  addReflection(server, [KeyValueBatchInterface, LifecycleInterface]);
  address = `127.0.0.1:${await bindServer(server, "127.0.0.1", 0)}`;
});
afterAll(() => server.forceShutdown());

async function ask(service: typeof V1 | typeof V1Alpha, request: Record<string, unknown>) {
  const { client, close } = createClient(service as typeof V1, address);
  try {
    const requests = (async function* () {
      yield { messageRequest: request } as never;
    })();
    for await (const r of client.serverReflectionInfo(requests)) return r;
  } finally {
    close();
  }
  throw new Error("no response");
}

const fileNames = (r: Awaited<ReturnType<typeof ask>>) =>
  r.messageResponse.case === "fileDescriptorResponse"
    ? r.messageResponse.value.fileDescriptorProto.map((b) => fromBinary(FileDescriptorProtoSchema, b).name)
    : [];

describe("server reflection", () => {
  test("lists the services, reflection included (v1 and v1alpha)", async () => {
    for (const svc of [V1, V1Alpha]) {
      const r = await ask(svc, { case: "listServices", value: "" });
      expect(r.messageResponse.case).toBe("listServicesResponse");
      const names = r.messageResponse.case === "listServicesResponse" ? r.messageResponse.value.service.map((s) => s.name) : [];
      expect(names).toContain("prism.interfaces.keyvalue.KeyValueBatchInterface");
      expect(names).toContain("prism.interfaces.LifecycleInterface");
      expect(names).toContain("grpc.reflection.v1.ServerReflection");
    }
  });

  test("the file of a symbol comes with its dependencies", async () => {
    const r = await ask(V1, { case: "fileContainingSymbol", value: "prism.interfaces.keyvalue.KeyValueBatchInterface" });
    expect(fileNames(r)).toEqual([
      "prism/common/types.proto",
      "prism/interfaces/keyvalue/keyvalue_basic.proto",
      "prism/interfaces/keyvalue/keyvalue_batch.proto",
    ]);
    const m = await ask(V1, { case: "fileContainingSymbol", value: "prism.interfaces.LifecycleInterface.Initialize" });
    expect(fileNames(m)).toEqual(["google/protobuf/struct.proto", "prism/interfaces/lifecycle.proto"]);
  });

  test("a client that half-closes gets every answer and then the end of the stream (as grpcurl does)", async () => {
    const { client, close } = createClient(V1, address);
    const requests = (async function* () {
      yield { messageRequest: { case: "listServices", value: "" } } as never;
      yield { messageRequest: { case: "fileByFilename", value: "prism/common/types.proto" } } as never;
    })();
    const cases: string[] = [];
    for await (const r of client.serverReflectionInfo(requests, { timeoutMs: 5000 })) cases.push(r.messageResponse.case ?? "");
    close();
    expect(cases).toEqual(["listServicesResponse", "fileDescriptorResponse"]);
  });

  test("a file by name; unknown names are NOT_FOUND errors in the stream", async () => {
    expect(fileNames(await ask(V1, { case: "fileByFilename", value: "prism/common/types.proto" }))).toEqual(["prism/common/types.proto"]);
    const r = await ask(V1, { case: "fileContainingSymbol", value: "no.such.Thing" });
    expect(r.messageResponse.case).toBe("errorResponse");
    expect(r.messageResponse.case === "errorResponse" && r.messageResponse.value.errorCode).toBe(grpc.status.NOT_FOUND);
  });
});
