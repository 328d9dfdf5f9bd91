import http2 from "node:http2";
import { Code } from "../../sdk/grpc/errors";

/** grpc-message is percent-encoded (gRPC HTTP/2 spec): keep printable ASCII except '%'. */
export function encodeGrpcMessage(message: string): string {
  return /^[\x20-\x24\x26-\x7e]*$/.test(message) ? message : encodeURIComponent(message);
}

/** The text of a received grpc-message header (percent-decoded; kept as is when it is not valid encoding). */
export function decodeGrpcMessage(raw: string | string[] | undefined): string {
  const s = Array.isArray(raw) ? raw.join(",") : (raw ?? "");
  if (!s.includes("%")) return s;
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/** The gRPC code a client library reports when the stream is reset with an HTTP/2 error code. */
export function codeOfReset(rstCode: number): Code {
  switch (rstCode) {
    case http2.constants.NGHTTP2_NO_ERROR:
      return Code.INTERNAL;
    case http2.constants.NGHTTP2_REFUSED_STREAM:
      return Code.UNAVAILABLE;
    case http2.constants.NGHTTP2_CANCEL:
      return Code.CANCELLED;
    case http2.constants.NGHTTP2_ENHANCE_YOUR_CALM:
      return Code.RESOURCE_EXHAUSTED;
    case http2.constants.NGHTTP2_INADEQUATE_SECURITY:
      return Code.PERMISSION_DENIED;
    default:
      return Code.INTERNAL;
  }
}

/** The gRPC code of a response whose HTTP status is not 200 (gRPC's "HTTP to gRPC status code mapping"). */
export function codeOfHttpStatus(status: number): Code {
  switch (status) {
    case 400:
      return Code.INTERNAL;
    case 401:
      return Code.UNAUTHENTICATED;
    case 403:
      return Code.PERMISSION_DENIED;
    case 404:
      return Code.UNIMPLEMENTED;
    case 429:
    case 502:
    case 503:
    case 504:
      return Code.UNAVAILABLE;
    default:
      return Code.UNKNOWN;
  }
}
