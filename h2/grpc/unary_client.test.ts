import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import * as grpc from "@grpc/grpc-js";
import http2 from "node:http2";
import net, { type AddressInfo } from "node:net";
import { KeyValueBasicInterface } from "../../proto/gen/prism/interfaces/keyvalue/keyvalue_basic_pb";
import { NAMESPACE_HEADER } from "../../sdk/grpc/context";
import { Code, PrismError } from "../../sdk/grpc/errors";
import { createUnaryClient, H2Channel } from "./unary_client";
import { addService } from "../../sdk/grpc/server";
import { bindServer, serverOptions } from "../../sdk/grpc/server_factory";

async function codeOf(p: Promise<unknown>): Promise<{ code: Code; message: string }> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(PrismError);
    return { code: (err as PrismError).code, message: (err as PrismError).message };
  }
  throw new Error("the call succeeded");
}

describe("H2 unary client against the SDK's grpc-js server", () => {
  const server = new grpc.Server(serverOptions);
  const store = new Map<string, Uint8Array>();
  let channel: H2Channel;
  let kv: ReturnType<typeof createUnaryClient<typeof KeyValueBasicInterface>>;

  beforeAll(async () => {
    addService(server, KeyValueBasicInterface, {
      set(req, ctx) {
        if (req.key === "who") return { success: true, error: ctx.namespace };
        store.set(req.key, req.value);
        return { success: true };
      },
      get(req) {
        const value = store.get(req.key);
        return value ? { found: true, value } : { found: false };
      },
      delete(req) {
        throw new PrismError(Code.NOT_FOUND, `no key ${req.key} — 100% gone`);
      },
      async exists(_req, ctx) {
        await new Promise<void>((r) => ctx.signal.addEventListener("abort", () => r()));
        return { exists: false };
      },
    });
    const port = await bindServer(server, "127.0.0.1", 0);
    channel = new H2Channel(`127.0.0.1:${port}`);
    kv = createUnaryClient(KeyValueBasicInterface, channel);
  });
  afterAll(() => {
    channel.close();
    server.forceShutdown();
  });

  test("round trip, many calls multiplexed on one connection", async () => {
    const value = new Uint8Array(70_000).fill(7); // more than one DATA frame each way
    expect((await kv.set({ key: "k", value })).success).toBe(true);
    const replies = await Promise.all(Array.from({ length: 200 }, () => kv.get({ key: "k" })));
    for (const r of replies) expect(r.value).toEqual(value);
    expect((await kv.get({ key: "absent" })).found).toBe(false);
  });

  test("values beyond the flow-control windows both ways (5 MiB Set and Get)", async () => {
    const big = new Uint8Array(5 * 1024 * 1024).map((_, i) => i % 251);
    expect((await kv.set({ key: "big", value: big }, { timeoutMs: 20_000 })).success).toBe(true);
    const got = await kv.get({ key: "big" }, { timeoutMs: 20_000 });
    expect(got.value.length).toBe(big.length);
    expect(Buffer.compare(got.value, big)).toBe(0);
  });

  test("metadata reaches the server", async () => {
    const reply = await kv.set({ key: "who", value: new Uint8Array() }, { metadata: { [NAMESPACE_HEADER]: "orders" } });
    expect(reply.error).toBe("orders");
  });

  test("an error status comes back with its code and its (percent-decoded) message", async () => {
    const { code, message } = await codeOf(kv.delete({ key: "x" }));
    expect(code).toBe(Code.NOT_FOUND);
    expect(message).toContain("no key x — 100% gone");
  });

  test("a call past its deadline ends DEADLINE_EXCEEDED", async () => {
    const t0 = performance.now();
    const { code } = await codeOf(kv.exists({ key: "slow" }, { timeoutMs: 150 }));
    expect(code).toBe(Code.DEADLINE_EXCEEDED);
    expect(performance.now() - t0).toBeLessThan(3_000);
  });

  test("an aborted signal cancels the call", async () => {
    const ac = new AbortController();
    const p = kv.exists({ key: "slow" }, { signal: ac.signal });
    setTimeout(() => ac.abort(), 50);
    expect((await codeOf(p)).code).toBe(Code.CANCELLED);
    ac.abort();
    expect((await codeOf(kv.get({ key: "k" }, { signal: ac.signal }))).code).toBe(Code.CANCELLED);
  });
});

describe("H2 unary client against misbehaving servers", () => {
  // A raw HTTP/2 server whose answer the test picks by :path's method name.
  const answers: Record<string, (s: http2.ServerHttp2Stream) => void> = {
    Get: (s) => s.respond({ ":status": 503 }, { endStream: true }),
    Set: (s) => {
      s.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true });
      s.on("wantTrailers", () => s.sendTrailers({ "grpc-status": "0" }));
      s.end(Buffer.from([1, 0, 0, 0, 1, 0])); // compressed flag set
    },
    Delete: (s) => {
      s.respond({ ":status": 200, "content-type": "application/grpc" }, { waitForTrailers: true });
      s.on("wantTrailers", () => s.sendTrailers({ "grpc-status": "0" }));
      s.end(Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0])); // two empty messages
    },
    // Bun's server answers close(code) on a stream the client has finished sending with an empty DATA frame
    // ending the stream (no response headers, no status): a malformed response.
    Exists: (s) => s.close(http2.constants.NGHTTP2_REFUSED_STREAM),
  };
  const raw = http2.createServer();
  let kv: ReturnType<typeof createUnaryClient<typeof KeyValueBasicInterface>>;
  let channel: H2Channel;

  beforeAll(async () => {
    raw.on("stream", (s: http2.ServerHttp2Stream, h) => {
      s.on("error", () => undefined);
      s.resume();
      answers[String(h[":path"]).split("/").pop()!]!(s);
    });
    await new Promise<void>((r) => raw.listen(0, "127.0.0.1", r));
    channel = new H2Channel(`127.0.0.1:${(raw.address() as AddressInfo).port}`);
    kv = createUnaryClient(KeyValueBasicInterface, channel);
  });
  afterAll(() => {
    channel.close();
    raw.close();
  });

  test("HTTP 503 maps to UNAVAILABLE", async () => {
    expect((await codeOf(kv.get({ key: "k" }))).code).toBe(Code.UNAVAILABLE);
  });
  test("a compressed reply it did not ask for is INTERNAL", async () => {
    expect(await codeOf(kv.set({ key: "k" }))).toMatchObject({ code: Code.INTERNAL, message: expect.stringContaining("compressed") });
  });
  test("two messages in a unary reply is INTERNAL", async () => {
    expect(await codeOf(kv.delete({ key: "k" }))).toMatchObject({ code: Code.INTERNAL, message: expect.stringContaining("more than one") });
  });
  test("a stream ended without response headers or status is INTERNAL", async () => {
    expect(await codeOf(kv.exists({ key: "k" }))).toMatchObject({ code: Code.INTERNAL, message: expect.stringContaining("without a status") });
  });
});

test("nothing listening: UNAVAILABLE, and the channel reconnects once a server is there", async () => {
  const probe = http2.createServer();
  await new Promise<void>((r) => probe.listen(0, "127.0.0.1", r));
  const port = (probe.address() as AddressInfo).port;
  await new Promise<void>((r) => probe.close(() => r()));
  const channel = new H2Channel(`127.0.0.1:${port}`);
  const kv = createUnaryClient(KeyValueBasicInterface, channel);
  expect((await codeOf(kv.get({ key: "k" }, { timeoutMs: 2_000 }))).code).toBe(Code.UNAVAILABLE);
  const server = new grpc.Server(serverOptions);
  addService(server, KeyValueBasicInterface, {
    set: () => ({ success: true }),
    get: () => ({ found: false }),
    delete: () => ({ success: true }),
    exists: () => ({ exists: false }),
  });
  await bindServer(server, "127.0.0.1", port);
  try {
    expect((await kv.get({ key: "k" }, { timeoutMs: 2_000 })).found).toBe(false);
  } finally {
    channel.close();
    server.forceShutdown();
  }
});

/** A server speaking raw HTTP/2 frames: it answers the client's first bytes with `reply` (frames), then does `after`. */
async function rawFrameServer(reply: Buffer, after: (sock: net.Socket) => void = () => undefined): Promise<{ port: number; close(): void }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((sock) => {
    sockets.add(sock);
    sock.on("error", () => undefined);
    sock.once("data", () => {
      sock.write(reply);
      after(sock);
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    port: (server.address() as AddressInfo).port,
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}

const h2frame = (type: number, flags: number, id: number, payload: number[] = []) =>
  Buffer.from([(payload.length >> 16) & 255, (payload.length >> 8) & 255, payload.length & 255, type, flags, 0, 0, 0, id, ...payload]);
const SETTINGS = h2frame(4, 0, 0);

describe("H2 unary client against a server speaking raw frames", () => {
  const cases: [string, Buffer, Code, string, ((s: net.Socket) => void)?][] = [
    ["RST_STREAM REFUSED_STREAM is UNAVAILABLE", Buffer.concat([SETTINGS, h2frame(3, 0, 1, [0, 0, 0, 7])]), Code.UNAVAILABLE, "error code 7"],
    ["RST_STREAM CANCEL is CANCELLED", Buffer.concat([SETTINGS, h2frame(3, 0, 1, [0, 0, 0, 8])]), Code.CANCELLED, "error code 8"],
    ["GOAWAY that did not take the stream is UNAVAILABLE", Buffer.concat([SETTINGS, h2frame(7, 0, 0, [0, 0, 0, 0, 0, 0, 0, 0])]), Code.UNAVAILABLE, "GOAWAY"],
    ["a connection dropped mid-call is UNAVAILABLE", SETTINGS, Code.UNAVAILABLE, "closed", (s) => s.destroy()],
    // A Huffman-coded literal whose padding is not all ones: the header block cannot be decoded.
    [
      "an undecodable header block fails the connection",
      Buffer.concat([SETTINGS, h2frame(1, 4, 1, [0x88, 0x00, 0x81, 0x00, 0x81, 0x00])]),
      Code.UNAVAILABLE,
      "HPACK",
    ],
  ];
  for (const [name, reply, code, text, after] of cases)
    test(name, async () => {
      const server = await rawFrameServer(reply, after);
      const channel = new H2Channel(`127.0.0.1:${server.port}`);
      try {
        const kv = createUnaryClient(KeyValueBasicInterface, channel);
        expect(await codeOf(kv.get({ key: "k" }, { timeoutMs: 2_000 }))).toMatchObject({ code, message: expect.stringContaining(text) });
      } finally {
        channel.close();
        server.close();
      }
    });

  test("a full reply in raw frames (indexed :status, Huffman and literal fields, trailers) decodes", async () => {
    // HEADERS: :status 200 (static 8), content-type: application/grpc as a literal with indexing (name index 31);
    // DATA: GetResponse{found: true} framed; trailers: grpc-status "0" Huffman-coded ("0" = 00000, padded 111 → 0x07).
    const ct = Buffer.from("application/grpc");
    const headers = [0x88, 0x5f, ct.length, ...ct];
    const trailers = [0x00, 0x0b, ...Buffer.from("grpc-status"), 0x81, 0x07];
    const reply = Buffer.concat([SETTINGS, h2frame(1, 4, 1, headers), h2frame(0, 0, 1, [0, 0, 0, 0, 2, 0x08, 0x01]), h2frame(1, 5, 1, trailers)]);
    const server = await rawFrameServer(reply);
    const channel = new H2Channel(`127.0.0.1:${server.port}`);
    try {
      const kv = createUnaryClient(KeyValueBasicInterface, channel);
      expect((await kv.get({ key: "k" }, { timeoutMs: 2_000 })).found).toBe(true);
    } finally {
      channel.close();
      server.close();
    }
  });
});
