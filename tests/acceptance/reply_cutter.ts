/**
 * A TCP relay in front of a gRPC target that can lose replies: while `dropReplies` is set, bytes from the server
 * are discarded (requests still pass), and `cut()` closes every relayed connection. A call sent then and cut
 * has reached the server but its client never hears back: the write whose outcome is unknown (contract §5).
 */
import { createConnection, createServer, type Server, type Socket } from "node:net";

export interface ReplyCutter {
  /** host:port to give the client instead of the target's address. */
  readonly address: string;
  dropReplies: boolean;
  /** Closes every connection relayed so far (new ones are accepted again). */
  cut(): void;
  close(): Promise<void>;
}

export async function replyCutter(target: string): Promise<ReplyCutter> {
  const colon = target.lastIndexOf(":");
  const host = target.slice(0, colon).replace(/^\[(.*)\]$/, "$1");
  const port = Number(target.slice(colon + 1));
  const sockets = new Set<Socket>();
  const track = (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
    s.on("error", () => s.destroy());
  };
  const state = { dropReplies: false };
  const server: Server = createServer((client) => {
    const upstream = createConnection({ host, port });
    track(client);
    track(upstream);
    client.on("data", (b) => upstream.write(b));
    upstream.on("data", (b) => {
      if (!state.dropReplies) client.write(b);
    });
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const addr = server.address() as { port: number };
  return {
    address: `127.0.0.1:${addr.port}`,
    get dropReplies() {
      return state.dropReplies;
    },
    set dropReplies(v: boolean) {
      state.dropReplies = v;
    },
    cut() {
      for (const s of sockets) s.destroy();
    },
    close() {
      for (const s of sockets) s.destroy();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
