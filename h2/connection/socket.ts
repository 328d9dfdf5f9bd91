import net from "node:net";
import tls from "node:tls";
import type { ConnectTarget } from "./stream";

/** Opens the socket to `target`: TCP or a Unix socket, with TLS and ALPN "h2" when it asks; `onNotH2` hears a TLS server that did not agree to HTTP/2. */
export function connectSocket(target: ConnectTarget, onNotH2: (reason: string) => void): net.Socket {
  const t = target.tls;
  let socket: net.Socket;
  if (t) {
    const opts: tls.ConnectionOptions = { ...t, ALPNProtocols: ["h2"], ...(target.path ? { path: target.path } : { host: target.host, port: target.port }) };
    if (opts.servername === undefined && target.host !== undefined && net.isIP(target.host) === 0) opts.servername = target.host;
    socket = tls.connect(opts, () => {
      const alpn = (socket as tls.TLSSocket).alpnProtocol;
      if (alpn !== "h2") onNotH2(`the server did not agree to HTTP/2 over TLS (ALPN ${alpn || "none"})`);
    });
  } else {
    socket = target.path ? net.connect(target.path) : net.connect(target.port ?? 0, target.host ?? "127.0.0.1");
  }
  return socket;
}

/** Where `address` is: `unix:PATH`, `host:port` or `[v6]:port`. */
export function parseTarget(address: string): { path: string } | { host: string; port: number } {
  if (address.startsWith("unix:")) return { path: address.slice("unix:".length) };
  const colon = address.lastIndexOf(":");
  return { host: address.slice(0, colon).replace(/^\[|\]$/g, ""), port: Number(address.slice(colon + 1)) };
}
