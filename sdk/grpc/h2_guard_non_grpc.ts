import type http2 from "node:http2";

/** The body of the answer to a request that is not gRPC. */
export const NON_GRPC_BODY = "This is a gRPC server: requests must have content-type application/grpc.\n";

/** True when a request's content-type is gRPC's (application/grpc, +proto, +json, ...). */
export function isGrpcRequest(headers: http2.IncomingHttpHeaders): boolean {
  const type = headers["content-type"];
  return typeof type === "string" && type.startsWith("application/grpc");
}

/**
 * Answers a request that is not gRPC with HTTP 415 and a short text body (gRPC over HTTP/2: a server SHOULD answer
 * 415, so other HTTP clients do not read a gRPC error's 200 as success). grpc-js sends the 415 with no body, which
 * a generic HTTP/2 client (h2spec) cannot tell from a stream the server never served.
 */
export function answerNonGrpcRequest(stream: http2.ServerHttp2Stream): void {
  try {
    stream.respond({ ":status": 415, "content-type": "text/plain; charset=utf-8" });
    stream.end(NON_GRPC_BODY);
  } catch {
    /* the stream is gone */
  }
}
