// The floor of the proxy's stack: a bare HTTP/2 relay on Bun's node:http2, with no
// routing, metrics, tracing, status mapping or failure handling — headers, body and
// trailers copied between a client stream and one upstream session. It serves
// `make bench`'s "through a bare relay" row, in front of a pattern reached the way
// the proxy reaches launched ones (a Unix socket).
// Usage: bun bench/bare_relay.ts --upstream unix:PATH|HOST:PORT [--port N]
//   → prints "bare relay listening on HOST:PORT"; on SIGUSR2, "bare relay relayed N calls".
import http2 from "node:http2";
import net from "node:net";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: { upstream: { type: "string" }, port: { type: "string", default: "0" }, host: { type: "string", default: "127.0.0.1" } },
});
const target = values.upstream;
if (!target) {
  process.stderr.write("bare relay: --upstream unix:PATH or HOST:PORT is required\n");
  process.exit(2);
}
const upstream = target.startsWith("unix:")
  ? http2.connect("http://localhost", { createConnection: () => net.connect(target.slice(5)) })
  : http2.connect(`http://${target}`);
upstream.on("error", (err) => {
  process.stderr.write(`bare relay: upstream ${target}: ${err.message}\n`);
  process.exit(1);
});

const server = http2.createServer({ settings: { maxConcurrentStreams: 1_000 } });
let calls = 0;
server.on("stream", (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => {
  calls++;
  const req = upstream.request(headers, { endStream: false });
  stream.on("data", (c: Buffer) => req.write(c));
  stream.on("end", () => req.end());
  stream.on("error", () => req.close(http2.constants.NGHTTP2_CANCEL));
  req.on("error", () => stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR));
  let trailers: http2.IncomingHttpHeaders | undefined;
  req.on("response", (h) => {
    if (h["grpc-status"] !== undefined) return stream.respond(h, { endStream: true });
    stream.respond(h, { waitForTrailers: true });
    req.on("data", (c: Buffer) => stream.write(c));
    req.on("end", () => stream.end());
  });
  req.on("trailers", (t) => (trailers = t));
  stream.on("wantTrailers", () => stream.sendTrailers(trailers ?? { "grpc-status": "13" }));
});
server.listen(Number(values.port), values.host, () => {
  const a = server.address() as net.AddressInfo;
  process.stdout.write(`bare relay listening on ${values.host}:${a.port}\n`);
});
const stop = () => {
  server.close();
  upstream.close();
  process.exit(0);
};
process.on("SIGTERM", stop);
// The bench asks how many calls went through (for CPU per call).
process.on("SIGUSR2", () => process.stdout.write(`bare relay relayed ${calls} calls\n`));
process.on("SIGINT", stop);
