/**
 * The alternative design contract §7 measured, for comparison only: a grpc-js
 * server that passes raw request/response bytes for the KeyValueBasic methods to
 * one backend ({parent: call} propagates deadline and cancellation).
 *   bun tests/proxy/bench/grpcjs_raw_proxy.ts BACKEND_HOST:PORT LISTEN_PORT
 */
import * as grpc from "@grpc/grpc-js";

const [target, port] = [process.argv[2]!, Number(process.argv[3] ?? 0)];
const raw = (b: Buffer) => b;
const client = new grpc.Client(target, grpc.credentials.createInsecure());
const server = new grpc.Server();
// grpc-js has no catch-all handler: every forwarded path is registered.
for (const method of ["Set", "Get", "Delete", "Exists"]) {
  const path = `/prism.interfaces.keyvalue.KeyValueBasicInterface/${method}`;
  server.register(
    path,
    (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) =>
      client.makeUnaryRequest(path, raw, raw, call.request, call.metadata, { parent: call }, (err, res) => cb(err, res)),
    raw,
    raw,
    "unary",
  );
}
server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err, bound) => {
  if (err) throw err;
  process.stdout.write(`grpc-js raw proxy listening on 127.0.0.1:${bound}\n`);
});
