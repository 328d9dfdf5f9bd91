// The bench's ceiling: a bare grpc-js server answering KeyValueBasicInterface
// Set/Get from a Map, with the same generated messages and runtime as Prism
// but none of its SDK (no interceptors, metrics, lifecycle gate or validation).
// Usage: bun bench/echo_server.ts [--port N]  → prints "echo grpc listening on HOST:PORT".
import { create, fromBinary, toBinary, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { parseArgs } from "node:util";
import {
  GetRequestSchema,
  GetResponseSchema,
  SetRequestSchema,
  SetResponseSchema,
  type GetRequest,
  type SetRequest,
} from "../proto/gen/prism/interfaces/keyvalue/keyvalue_basic_pb";

const SERVICE = "/prism.interfaces.keyvalue.KeyValueBasicInterface";

function method<I extends DescMessage, O extends DescMessage>(name: string, input: I, output: O): grpc.MethodDefinition<MessageShape<I>, MessageShape<O>> {
  return {
    path: `${SERVICE}/${name}`,
    requestStream: false,
    responseStream: false,
    requestSerialize: (m) => Buffer.from(toBinary(input, m)),
    requestDeserialize: (b) => fromBinary(input, b),
    responseSerialize: (m) => {
      const bytes = toBinary(output, m);
      return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    },
    responseDeserialize: (b) => fromBinary(output, b),
  };
}

const definition = {
  set: method("Set", SetRequestSchema, SetResponseSchema),
  get: method("Get", GetRequestSchema, GetResponseSchema),
};

const store = new Map<string, Uint8Array>();
const setOk = create(SetResponseSchema, { success: true });
const notFound = create(GetResponseSchema, { found: false });

const server = new grpc.Server({ "grpc.max_receive_message_length": 16 * 1024 * 1024 });
server.addService(definition, {
  set: (call: grpc.ServerUnaryCall<SetRequest, unknown>, cb: grpc.sendUnaryData<unknown>) => {
    store.set(call.request.key, call.request.value);
    cb(null, setOk);
  },
  get: (call: grpc.ServerUnaryCall<GetRequest, unknown>, cb: grpc.sendUnaryData<unknown>) => {
    const value = store.get(call.request.key);
    cb(null, value === undefined ? notFound : create(GetResponseSchema, { found: true, value }));
  },
});

const { values } = parseArgs({ options: { port: { type: "string", default: "0" }, host: { type: "string", default: "127.0.0.1" } } });
server.bindAsync(`${values.host}:${values.port}`, grpc.ServerCredentials.createInsecure(), (err, port) => {
  if (err) {
    process.stderr.write(`echo: cannot bind: ${err.message}\n`);
    process.exit(1);
  }
  process.stdout.write(`echo grpc listening on ${values.host}:${port}\n`);
});

const stop = () => server.tryShutdown(() => process.exit(0));
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
