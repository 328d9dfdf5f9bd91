import type net from "node:net";

/** Bytes kept at most before they are sent without waiting for the turn to end. */
export const BATCH_BYTES = 64 * 1024;
/** A turn with more writes than this makes the next one batch its first write too. */
const BUSY_TURN_WRITES = 2;

/**
 * Batches what an HTTP/2 session writes to its socket into one write per turn of the event loop.
 *
 * Behind the guard (h2_guard.ts) Bun's frame parser has no native socket and writes through the socket's JS
 * write(), about once per response: every response paid Bun's stream machinery and a send of its own, a fifth of
 * the proxy's CPU (`bun bench/profile/run.ts --subject proxy`: writeBuffered). Here the writes of one turn are
 * kept and sent together from setImmediate, after the I/O callbacks that produced them.
 *
 * Only while the socket is busy, though: the first write of a turn goes at once unless the turn before had more
 * than two writes (a response takes one or two). Under light load there is nothing to batch a response with, and
 * waiting for the turn's end only made each call later. A batch that reaches BATCH_BYTES goes at once, so a large
 * body still meets the socket's back-pressure as it grows. Nothing is reordered or dropped: every write of the
 * session goes through here, and end() and destroy() send what is kept first.
 * Back-pressure is the socket's: write() returns false from the time a batch is refused until the socket drains,
 * and this drain listener runs before the session's, which then writes again.
 */
export function batchSocketWrites(socket: net.Socket): void {
  const write = socket.write as (chunk: Uint8Array) => boolean;
  const end = socket.end;
  const destroy = socket.destroy;
  let kept: Uint8Array[] = [];
  let keptBytes = 0;
  let full = false;
  /** Writes asked for in this turn; whether a setImmediate ends it; whether the turn before had more than BUSY_TURN_WRITES. */
  let turnWrites = 0;
  let turnOpen = false;
  let busy = false;
  const send = () => {
    const parts = kept;
    if (parts.length === 0) return;
    kept = [];
    keptBytes = 0;
    if (socket.destroyed || socket.writableEnded) return;
    if (!write.call(socket, parts.length === 1 ? parts[0]! : Buffer.concat(parts))) full = true;
  };
  const endTurn = () => {
    turnOpen = false;
    busy = turnWrites > BUSY_TURN_WRITES;
    turnWrites = 0;
    send();
  };
  socket.prependListener("drain", () => {
    full = false;
  });
  socket.write = function (this: net.Socket, chunk: unknown, encoding?: unknown, callback?: unknown): boolean {
    // Only the parser's own form (one buffer, no encoding or callback) is batched; no rest array per write.
    if (encoding !== undefined || callback !== undefined || !(chunk instanceof Uint8Array)) {
      send();
      const ok = (write as (...a: unknown[]) => boolean).call(this, chunk, encoding, callback);
      if (!ok) full = true;
      return ok;
    }
    kept.push(chunk);
    keptBytes += chunk.byteLength;
    if (!turnOpen) {
      turnOpen = true;
      setImmediate(endTurn);
    }
    if (++turnWrites === 1 ? !busy : keptBytes >= BATCH_BYTES) send();
    return !full;
  } as typeof socket.write;
  socket.end = function (this: net.Socket, ...args: unknown[]) {
    send();
    return (end as (...a: unknown[]) => net.Socket).apply(this, args);
  } as typeof socket.end;
  socket.destroy = function (this: net.Socket, ...args: unknown[]) {
    send();
    return (destroy as (...a: unknown[]) => net.Socket).apply(this, args);
  } as typeof socket.destroy;
}
