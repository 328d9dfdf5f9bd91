import * as grpc from "@grpc/grpc-js";

/** Server options shared by every Prism gRPC server: 16 MiB messages so size limits are ours to enforce. */
export const serverOptions: grpc.ServerOptions = {
  "grpc.max_receive_message_length": 16 * 1024 * 1024,
  "grpc.max_send_message_length": 16 * 1024 * 1024,
  "grpc.keepalive_permit_without_calls": 1,
};

/** Binds a server to host:port (port 0 picks a free one) and returns the bound port. */
export function bindServer(server: grpc.Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) =>
    server.bindAsync(`${host}:${port}`, grpc.ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound))),
  );
}

/** Graceful stop bounded by timeoutMs, then forced; resolves true when it had to force. */
export function stopServer(server: grpc.Server, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      server.forceShutdown();
      resolve(true);
    }, timeoutMs);
    server.tryShutdown(() => {
      clearTimeout(timer);
      resolve(false);
    });
  });
}
