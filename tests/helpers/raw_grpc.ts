import * as http2 from "node:http2";

/** What a raw gRPC call ended with: the status from trailers (or trailers-only headers) and the messages seen. */
export interface RawResult {
  code: number;
  message: string;
  /** Length-prefixed response messages, payload bytes only. */
  messages: Buffer[];
}

/** Frames one gRPC message: flag byte 0, 4-byte big-endian length, payload. `claimLength` lets a test lie. */
export function frame(payload: Uint8Array, claimLength = payload.byteLength): Buffer {
  const out = Buffer.alloc(5 + payload.byteLength);
  out.writeUInt32BE(claimLength, 1);
  out.set(payload, 5);
  return out;
}

/**
 * One gRPC call over a bare HTTP/2 session, sending exactly the given body bytes (well-formed or not), so tests
 * can send what no gRPC library would: malformed messages, lying length prefixes, no message at all.
 */
export function rawCall(address: string, path: string, body: Buffer, headers: Record<string, string> = {}, timeoutMs = 10_000): Promise<RawResult> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`http://${address}`);
    session.on("error", reject);
    const timer = setTimeout(() => {
      session.destroy();
      reject(new Error(`raw call ${path} got no status within ${timeoutMs} ms`));
    }, timeoutMs);
    const req = session.request({
      ":method": "POST",
      ":path": path,
      "content-type": "application/grpc",
      te: "trailers",
      ...headers,
    });
    const chunks: Buffer[] = [];
    let status: { code: number; message: string } | undefined;
    const take = (h: http2.IncomingHttpHeaders) => {
      if (h["grpc-status"] !== undefined) {
        status = { code: Number(h["grpc-status"]), message: decodeURIComponent(String(h["grpc-message"] ?? "")) };
      }
    };
    req.on("response", take);
    req.on("trailers", take);
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("error", () => undefined);
    req.on("close", () => {
      clearTimeout(timer);
      session.close();
      const data = Buffer.concat(chunks);
      const messages: Buffer[] = [];
      for (let at = 0; at + 5 <= data.length; ) {
        const n = data.readUInt32BE(at + 1);
        messages.push(data.subarray(at + 5, at + 5 + n));
        at += 5 + n;
      }
      if (status) resolve({ ...status, messages });
      else reject(new Error(`raw call ${path} closed without a grpc-status`));
    });
    req.end(body);
  });
}
