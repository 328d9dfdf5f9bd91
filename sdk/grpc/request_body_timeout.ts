import http2 from "node:http2";

/**
 * Resets a call whose request side stays open with no data for timeoutMs (a client that starts a body and
 * stops would otherwise hold its stream, and the call's resources, forever); `onReset` counts it.
 */
export function watchRequestBody(stream: http2.ServerHttp2Stream, timeoutMs: number, onReset: () => void): void {
  if (stream.readableEnded) return;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      if (stream.readableEnded || stream.closed || stream.destroyed) return;
      onReset();
      try {
        stream.close(http2.constants.NGHTTP2_CANCEL);
      } catch {
        /* gone */
      }
    }, timeoutMs);
    timer.unref?.();
  };
  arm();
  stream.on("data", arm);
  const done = () => clearTimeout(timer);
  stream.once("end", done);
  stream.once("close", done);
}
