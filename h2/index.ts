/**
 * Prism's own HTTP/2 client (RFC 9113), outside the Pattern SDK: the proxy's connection to each pattern and the
 * load tester's lean unary client run on it. codec/ turns bytes into frames and header fields and back;
 * connection/ holds one connection's state over a socket. The gRPC pieces on top (grpc/unary_client.ts,
 * grpc/status.ts) are entries of their own: they load the SDK's status codes, which this surface does not need.
 * codec/ is also what the SDK's server-side guard (sdk/grpc/h2_guard.ts) reads client frames with.
 */
export { ERROR } from "./codec/frames";
export { encodeHeaderBlock, encodeHeaderObject } from "./codec/hpack";
export { H2ClientConnection } from "./connection/connection";
export { LazyConnection } from "./connection/lazy_connection";
export { parseTarget } from "./connection/socket";
export { ClientStream, type ConnectTarget, type LostInfo, type StreamListener } from "./connection/stream";
