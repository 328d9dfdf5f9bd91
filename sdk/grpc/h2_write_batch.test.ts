import { describe, expect, test } from "bun:test";
import { EventEmitter } from "node:events";
import type net from "node:net";
import { BATCH_BYTES, batchSocketWrites } from "./h2_write_batch";

/** What a socket was asked to do, in order, as batchSocketWrites passes it on. */
type Op = ["write", string] | ["end", string] | ["destroy"];

/** A socket's write surface (write, end, destroy, 'drain'), recording what reaches it; `accept` is write()'s answer. */
/** Puts a socket whose writes are batched in the state of one that was busy in the last turn, and forgets the ops. */
async function busy(socket: net.Socket, ops: Op[]): Promise<void> {
  for (const s of ["1", "2", "3"]) socket.write(Buffer.from(s));
  await new Promise<void>((r) => setImmediate(r));
  ops.length = 0;
}

function socketRecording() {
  const ops: Op[] = [];
  const s = new EventEmitter() as EventEmitter & { accept: boolean; destroyed: boolean; writableEnded: boolean };
  s.accept = true;
  s.destroyed = false;
  s.writableEnded = false;
  Object.assign(s, {
    write(chunk: Uint8Array, ...rest: unknown[]) {
      ops.push(["write", Buffer.from(chunk).toString()]);
      const cb = rest.find((r) => typeof r === "function") as (() => void) | undefined;
      cb?.();
      return s.accept;
    },
    end(chunk?: Uint8Array) {
      ops.push(["end", chunk ? Buffer.from(chunk).toString() : ""]);
      s.writableEnded = true;
      return s;
    },
    destroy() {
      ops.push(["destroy"]);
      s.destroyed = true;
      return s;
    },
  });
  return { socket: s as unknown as net.Socket & { accept: boolean }, ops };
}

const turn = () => new Promise<void>((r) => setImmediate(r));
const b = (s: string) => Buffer.from(s);

describe("batchSocketWrites", () => {
  test("a quiet socket's first write of a turn goes at once, the rest at the turn's end; after a busy turn, all of it", async () => {
    const { socket, ops } = socketRecording();
    batchSocketWrites(socket);
    for (const s of ["a", "b", "c"]) expect(socket.write(b(s))).toBe(true);
    expect(ops).toEqual([["write", "a"]]);
    await turn();
    expect(ops).toEqual([
      ["write", "a"],
      ["write", "bc"],
    ]);
    // Three writes made that turn busy: this one waits for its turn's end, and two writes leave the socket quiet.
    socket.write(b("d"));
    socket.write(b("e"));
    expect(ops.length).toBe(2);
    await turn();
    expect(ops.at(-1)).toEqual(["write", "de"]);
    socket.write(b("f"));
    expect(ops.at(-1)).toEqual(["write", "f"]);
  });

  test("a batch that reaches BATCH_BYTES goes at once, and meets the socket's back-pressure there", async () => {
    const { socket, ops } = socketRecording();
    batchSocketWrites(socket);
    await busy(socket, ops);
    socket.accept = false;
    const half = Buffer.alloc(BATCH_BYTES / 2, "v");
    expect(socket.write(half)).toBe(true);
    expect(ops).toEqual([]);
    expect(socket.write(half)).toBe(false);
    expect(ops).toEqual([["write", "v".repeat(BATCH_BYTES)]]);
    await turn();
    expect(ops.length).toBe(1);
  });

  test("end() and destroy() send what is kept first", async () => {
    const ended = socketRecording();
    batchSocketWrites(ended.socket);
    await busy(ended.socket, ended.ops);
    ended.socket.write(b("x"));
    ended.socket.write(b("y"));
    ended.socket.end(b("goaway"));
    expect(ended.ops).toEqual([
      ["write", "xy"],
      ["end", "goaway"],
    ]);
    const destroyed = socketRecording();
    batchSocketWrites(destroyed.socket);
    await busy(destroyed.socket, destroyed.ops);
    destroyed.socket.write(b("z"));
    destroyed.socket.destroy();
    await turn();
    expect(destroyed.ops).toEqual([["write", "z"], ["destroy"]]);
  });

  test("a write with a callback (not the parser's form) goes after what is kept, at once", async () => {
    const { socket, ops } = socketRecording();
    batchSocketWrites(socket);
    await busy(socket, ops);
    socket.write(b("1"));
    let called = false;
    socket.write(b("2"), () => {
      called = true;
    });
    expect(ops).toEqual([
      ["write", "1"],
      ["write", "2"],
    ]);
    expect(called).toBe(true);
  });

  test("back-pressure: false from a refused batch until 'drain', and the session's drain listener already sees true", async () => {
    const { socket, ops } = socketRecording();
    // Registered first, as the session's own listener is (it writes again on drain).
    let onDrain: boolean | undefined;
    socket.on("drain", () => {
      onDrain = socket.write(b("after drain"));
    });
    batchSocketWrites(socket);
    await busy(socket, ops);
    socket.accept = false;
    expect(socket.write(b("big"))).toBe(true); // not sent yet: nothing refused
    await turn();
    expect(socket.write(b("more"))).toBe(false);
    socket.accept = true;
    socket.emit("drain");
    expect(onDrain).toBe(true);
    await turn();
    expect(ops).toEqual([
      ["write", "big"],
      ["write", "more"],
      ["write", "after drain"],
    ]);
  });

  test("nothing is written to a socket destroyed before its turn", async () => {
    const { socket, ops } = socketRecording();
    batchSocketWrites(socket);
    await busy(socket, ops);
    socket.write(b("late"));
    (socket as unknown as { destroyed: boolean }).destroyed = true;
    await turn();
    expect(ops).toEqual([]);
  });
});
