import { describe, expect, test } from "bun:test";
import { EventEmitter } from "node:events";
import type http2 from "node:http2";
import { Code } from "../sdk/grpc/errors";
import { admitLater } from "./router";

/** Just what admitLater and respondWithStatus touch of a server stream: events, and the headers it answers with. */
class FakeStream extends EventEmitter {
  destroyed = false;
  closed = false;
  headersSent = false;
  readableEnded = false;
  answered?: Record<string, string>;
  resume(): this {
    return this;
  }
  respond(headers: Record<string, string>): void {
    this.headersSent = true;
    this.answered = headers;
  }
}

const asStream = (s: FakeStream) => s as unknown as http2.ServerHttp2Stream;
const never = new Promise<boolean>(() => {});

describe("admitLater (a call waiting for its credentials to be verified)", () => {
  test("the body held meanwhile is bounded: past one 4 MiB message it is RESOURCE_EXHAUSTED and nothing is kept", () => {
    const s = new FakeStream();
    let relayed = false;
    admitLater(asStream(s), never, () => (relayed = true));
    for (let i = 0; i < 4; i++) s.emit("data", Buffer.alloc(1024 * 1024));
    expect(s.answered).toBeUndefined();
    s.emit("data", Buffer.alloc(1024));
    expect(s.answered?.["grpc-status"]).toBe(String(Code.RESOURCE_EXHAUSTED));
    expect(s.listenerCount("data")).toBe(0);
    expect(relayed).toBe(false);
  });

  test("a verification that fails is answered UNAUTHENTICATED, not left to the caller's deadline", async () => {
    const s = new FakeStream();
    admitLater(asStream(s), Promise.reject(new Error("jwks unreachable")), () => {});
    await Bun.sleep(0);
    expect(s.answered?.["grpc-status"]).toBe(String(Code.UNAUTHENTICATED));
  });

  test("an admitted call gets the frames that arrived while it waited, then its end", async () => {
    const s = new FakeStream();
    let admit!: (ok: boolean) => void;
    const seen: string[] = [];
    admitLater(asStream(s), new Promise<boolean>((r) => (admit = r)), () => {
      s.on("data", (c: Buffer) => seen.push(c.toString()));
      s.on("end", () => seen.push("end"));
    });
    s.emit("data", Buffer.from("a"));
    s.emit("data", Buffer.from("b"));
    s.emit("end");
    admit(true);
    await Bun.sleep(0);
    expect(seen).toEqual(["a", "b", "end"]);
    expect(s.answered).toBeUndefined();
  });
});
