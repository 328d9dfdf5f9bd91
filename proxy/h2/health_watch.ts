import { fromBinary } from "@bufbuild/protobuf";
import { HealthCheckResponseSchema, HealthCheckResponse_ServingStatus as Serving } from "../../proto/gen/grpc/health/v1/health_pb";
import { encodeHeaderBlock, type StreamListener } from "../../h2";
import type { Upstream } from "./upstream";

const WATCH_PATH = "/grpc.health.v1.Health/Watch";
/** HealthCheckRequest{service: ""}: an empty message, framed. */
const WATCH_ALL = Buffer.from([0, 0, 0, 0, 0]);

/**
 * Follows a pattern's grpc.health.v1 Watch (service "", the whole pattern) on a connection of its own (so it never
 * takes a stream a data call needs, even when the pattern allows one stream per connection), so a backend going
 * away shows in the proxy as soon as the pattern notices, with no polling. The Watch ends when its connection gets
 * GOAWAY, so a pattern stopping gracefully is not kept waiting for it. Calls
 * `onStatus(true|false)` on every pushed status, `onStatus(undefined)` when the stream ends or fails (then
 * watches again after `retryMs`), until `signal` aborts.
 */
export async function watchServing(upstream: Upstream, onStatus: (serving: boolean | undefined) => void, signal: AbortSignal, retryMs = 250): Promise<void> {
  while (!signal.aborted) {
    await watchOnce(upstream, onStatus, signal);
    onStatus(undefined);
    if (signal.aborted) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(done, retryMs);
      function done() {
        clearTimeout(t);
        signal.removeEventListener("abort", done);
        resolve();
      }
      signal.addEventListener("abort", done, { once: true });
    });
  }
}

/** The Watch request's header block: the same for every watch. */
const WATCH_BLOCK = encodeHeaderBlock([
  [":method", "POST"],
  [":scheme", "http"],
  [":path", WATCH_PATH],
  [":authority", "localhost"],
  ["content-type", "application/grpc"],
  ["te", "trailers"],
]);

function watchOnce(upstream: Upstream, onStatus: (serving: boolean | undefined) => void, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const conn = upstream.healthConnection();
    if (!conn) return resolve();
    let buf: Buffer = Buffer.alloc(0);
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      signal.removeEventListener("abort", onAbort);
      resolve();
    };
    const watcher: StreamListener = {
      onField: () => undefined,
      onHeadersEnd: (endStream) => endStream && end(),
      onData: (chunk, endStream) => {
        buf = buf.length === 0 ? Buffer.from(chunk) : Buffer.concat([buf, chunk]);
        while (buf.length >= 5) {
          const n = buf.readUInt32BE(1);
          if (buf.length < 5 + n) break;
          try {
            const { status } = fromBinary(HealthCheckResponseSchema, buf.subarray(5, 5 + n));
            onStatus(status === Serving.SERVING);
          } catch {
            // not a health answer: ignore it; the stream's end will say the rest
          }
          buf = buf.subarray(5 + n);
        }
        if (endStream) end();
      },
      onReset: end,
      onLost: end,
      // GOAWAY: end the Watch now, so a pattern stopping gracefully does not wait for it (a Watch above the server's
      // last stream id is lost instead, and one opened after the GOAWAY is refused: both end through onLost).
      onGoaway: () => onAbort(),
    };
    const stream = conn.open(WATCH_BLOCK, WATCH_ALL, watcher);
    const onAbort = () => {
      conn.cancel(stream);
      end();
    };
    signal.addEventListener("abort", onAbort, { once: true });
  });
}
