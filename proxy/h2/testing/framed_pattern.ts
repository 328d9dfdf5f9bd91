/**
 * A pattern played by hand-written HTTP/2 frames, for what node:http2 servers cannot be made to do on purpose
 * (RST_STREAM REFUSED_STREAM, GOAWAY with a chosen last stream): `onCall(streamId, reply)` is called for every
 * request's HEADERS, and answers with one of reply's moves.
 */
import net from "node:net";
import { ERROR, FLAG, FRAME, FRAME_HEADER_BYTES, frame, goawayFrame, rstStreamFrame, SETTING, settingsFrame } from "../../../h2/codec/frames";
import { encodeHeaderBlock } from "../../../h2/codec/hpack";

export interface Reply {
  /** A trailers-only OK. */
  ok(): void;
  /** RST_STREAM REFUSED_STREAM: not processed. */
  refuse(): void;
  /** GOAWAY naming `last` as the last stream taken, then the connection closes once the client has gone. */
  goaway(last: number): void;
  /** Drops the connection at once. */
  drop(): void;
  /** The number of this connection (1 for the first accepted). */
  readonly connection: number;
}

const OK_BLOCK = encodeHeaderBlock([
  [":status", "200"],
  ["content-type", "application/grpc"],
  ["grpc-status", "0"],
]);

export async function startFramedPattern(
  onCall: (streamId: number, reply: Reply) => void,
  settings: [number, number][] = [[SETTING.MAX_CONCURRENT_STREAMS, 100]],
) {
  let connections = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    const connection = ++connections;
    sockets.add(socket);
    socket.on("error", () => undefined);
    socket.once("close", () => sockets.delete(socket));
    socket.write(settingsFrame(settings));
    let buf = Buffer.alloc(0);
    let prefaceSeen = false;
    socket.on("data", (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      if (!prefaceSeen) {
        if (buf.length < 24) return;
        buf = buf.subarray(24);
        prefaceSeen = true;
      }
      while (buf.length >= FRAME_HEADER_BYTES) {
        const len = buf.readUIntBE(0, 3);
        if (buf.length < FRAME_HEADER_BYTES + len) break;
        const type = buf[3]!;
        const flags = buf[4]!;
        const id = buf.readUInt32BE(5) & 0x7fffffff;
        buf = buf.subarray(FRAME_HEADER_BYTES + len);
        if (type === FRAME.SETTINGS && !(flags & FLAG.ACK)) socket.write(frame(FRAME.SETTINGS, FLAG.ACK, 0));
        if (type !== FRAME.HEADERS) continue;
        onCall(id, {
          connection,
          ok: () => socket.write(frame(FRAME.HEADERS, FLAG.END_HEADERS | FLAG.END_STREAM, id, OK_BLOCK)),
          refuse: () => socket.write(rstStreamFrame(id, ERROR.REFUSED_STREAM)),
          goaway: (last) => socket.write(goawayFrame(last, ERROR.NO_ERROR)),
          drop: () => socket.destroy(),
        });
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  const port = (server.address() as net.AddressInfo).port;
  return {
    address: `127.0.0.1:${port}`,
    get connections() {
      return connections;
    },
    close() {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}
