// The floor of the proxy's stack: a bare HTTP/2 relay on the same pieces as the proxy (Bun's node:http2
// server toward clients, Prism's h2/ client connection toward the pattern), with no routing, metrics,
// tracing, status mapping or failure handling — headers, body and trailers copied between a client stream and
// one upstream connection. It serves `make bench`'s "through a bare relay" row, in front of a pattern reached
// the way the proxy reaches launched ones (a Unix socket).
// Usage: bun bench/bare_relay.ts --upstream unix:PATH|HOST:PORT [--port N]
//   → prints "bare relay listening on HOST:PORT"; on SIGUSR2, "bare relay relayed N calls".
import http2 from "node:http2";
import type net from "node:net";
import { parseArgs } from "node:util";
import { encodeHeaderObject, H2ClientConnection, parseTarget, type StreamListener } from "../h2";

const { values } = parseArgs({
  options: { upstream: { type: "string" }, port: { type: "string", default: "0" }, host: { type: "string", default: "127.0.0.1" } },
});
const target = values.upstream;
if (!target) {
  process.stderr.write("bare relay: --upstream unix:PATH or HOST:PORT is required\n");
  process.exit(2);
}
const upstream = new H2ClientConnection(parseTarget(target), () => {
  process.stderr.write(`bare relay: upstream ${target} closed\n`);
  process.exit(1);
});

const server = http2.createServer({ settings: { maxConcurrentStreams: 1_000 } });
let calls = 0;
server.on("stream", (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => {
  calls++;
  const h: http2.OutgoingHttpHeaders = {};
  let t: http2.OutgoingHttpHeaders | undefined;
  let inTrailers = false;
  const listener: StreamListener = {
    onField: (name, value) => {
      if (inTrailers) (t ??= {})[name] = value;
      else h[name] = name === ":status" ? Number(value) : value;
    },
    onHeadersEnd: (endStream) => {
      if (inTrailers) return void stream.end();
      inTrailers = true;
      if (endStream) return stream.respond(h, { endStream: true });
      stream.respond(h, { waitForTrailers: true });
    },
    onData: (chunk) => void stream.write(chunk),
    onReset: () => stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR),
    onLost: () => stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR),
  };
  const up = upstream.open(encodeHeaderObject(headers), undefined, listener, false);
  stream.on("data", (c: Buffer) => upstream.write(up, c));
  stream.on("end", () => upstream.end(up));
  stream.on("error", () => upstream.cancel(up));
  stream.on("wantTrailers", () => stream.sendTrailers(t ?? { "grpc-status": "13" }));
});
server.listen(Number(values.port), values.host, () => {
  const a = server.address() as net.AddressInfo;
  process.stdout.write(`bare relay listening on ${values.host}:${a.port}\n`);
});
const stop = () => {
  server.close();
  upstream.close(true);
  process.exit(0);
};
process.on("SIGTERM", stop);
// The bench asks how many calls went through (for CPU per call).
process.on("SIGUSR2", () => process.stdout.write(`bare relay relayed ${calls} calls\n`));
process.on("SIGINT", stop);
