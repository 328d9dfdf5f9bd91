import net from "node:net";

/** A loopback TCP port that was free a moment ago. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/** What a server that could not bind its port says (Bun, redis-server, nats-server). */
const PORT_TAKEN = /in use|EADDRINUSE/i;

/**
 * Starts something on a port found free just before. Tests run side by side, and one may bind that port in
 * between (CI30: "Is port … in use?"): then it is started again on another port, up to `attempts` times.
 */
export async function onFreePort<T>(start: (port: number) => Promise<T>, attempts = 5): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    try {
      return await start(port);
    } catch (err) {
      if (attempt >= attempts || !PORT_TAKEN.test((err as Error).message)) throw err;
    }
  }
}

/**
 * onFreePort for a server prepared on a port, then started: one that fails to start is discarded (its process
 * and files) before another port is tried.
 */
export function startOnFreePort<T>(
  prepare: (port: number) => T | Promise<T>,
  start: (server: T) => Promise<unknown>,
  discard: (server: T) => Promise<unknown>,
): Promise<T> {
  return onFreePort(async (port) => {
    const server = await prepare(port);
    try {
      await start(server);
      return server;
    } catch (err) {
      await discard(server);
      throw err;
    }
  });
}
