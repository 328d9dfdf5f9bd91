/**
 * A namespace's capacity through the proxy: 10,000 memstore Subscribe streams from a few client connections are
 * all carried (the proxy spreads them over several connections to the pattern), unary calls are answered promptly
 * meanwhile, the next stream is refused at once with RESOURCE_EXHAUSTED naming max_streams, and a client that
 * opens too many streams and then vanishes ends none of the other clients' streams.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { create, toBinary } from "@bufbuild/protobuf";
import http2 from "node:http2";
import { SubscribeRequestSchema } from "../../proto/gen/prism/interfaces/pubsub/pubsub_basic_pb";
import { Code } from "../../sdk/grpc/errors";
import { clientsFor, startProxy, type StartedProxy, utf8 } from "./harness";

const STREAMS = 10_000;
/** Client connections the streams come on (each under the listener's 2,048 streams per connection). */
const CONNECTIONS = 5;
const SUBSCRIBE = "/prism.interfaces.pubsub.PubSubBasicInterface/Subscribe";

function framed(message: Uint8Array): Buffer {
  const b = Buffer.alloc(5 + message.length);
  b.writeUInt32BE(message.length, 1);
  b.set(message, 5);
  return b;
}

/** A raw HTTP/2 client connection opening Subscribe streams; counts the messages each one receives. */
function subscriber(address: string) {
  const session = http2.connect(`http://${address}`);
  session.on("error", () => undefined);
  return {
    session,
    subscribe(id: string, onMessage: () => void): Promise<{ code: number; message: string }> {
      const req = session.request({
        ":method": "POST",
        ":path": SUBSCRIBE,
        "content-type": "application/grpc",
        te: "trailers",
        "x-prism-namespace": "default",
      });
      req.on("error", () => undefined);
      req.on("data", onMessage);
      const ended = new Promise<{ code: number; message: string }>((resolve) => {
        const finish = (h: http2.IncomingHttpHeaders) => {
          if (h["grpc-status"] !== undefined) resolve({ code: Number(h["grpc-status"]), message: decodeURIComponent(String(h["grpc-message"] ?? "")) });
        };
        req.on("response", finish);
        req.on("trailers", finish);
        req.on("close", () => resolve({ code: -1, message: `stream closed (HTTP/2 code ${req.rstCode})` }));
      });
      req.end(framed(toBinary(SubscribeRequestSchema, create(SubscribeRequestSchema, { topic: "t", subscriberId: id }))));
      return ended;
    },
  };
}

describe("a namespace carries 10,000 streams", () => {
  let proxy: StartedProxy;
  beforeAll(async () => {
    proxy = await startProxy(JSON.stringify({ namespaces: [{ name: "default", pattern: "memstore" }] }));
  }, 30_000);
  afterAll(async () => {
    await proxy?.stop(20_000);
    proxy?.cleanup();
  });

  test("one client's excess ends no one else's streams; 10,000 Subscribe streams delivered with unary calls prompt meanwhile; the next stream refused at once", async () => {
    const c = clientsFor(proxy.address, "default");
    const conns = Array.from({ length: CONNECTIONS }, () => subscriber(proxy.address));
    const received = new Uint32Array(STREAMS);
    const endings: Promise<{ code: number; message: string }>[] = [];
    let early: { code: number; message: string } | undefined;
    const getMs: number[] = [];
    /** Publishes until every stream in [0, n) has more messages than `before` says; false if one ended or time ran out. */
    const deliveredToAll = async (n: number, before: Uint32Array) => {
      const deadline = Date.now() + 120_000;
      const behind = () => received.subarray(0, n).some((m, i) => m <= before[i]!);
      while (behind() && early === undefined && Date.now() < deadline) {
        await c.pubsub.publish({ topic: "t", payload: utf8("m") }, c.opts());
        const t = performance.now();
        await c.kv.get({ key: "k" }, c.opts({ timeoutMs: 10_000 }));
        getMs.push(performance.now() - t);
        await Bun.sleep(200);
      }
      // The first stream that ended says why, when one did.
      return behind() ? `not delivered to every stream: ${early ? `${early.message} (code ${early.code})` : "time ran out"}` : true;
    };
    const open = (from: number, to: number) => {
      for (let i = from; i < to; i++) {
        const ended = conns[i % CONNECTIONS]!.subscribe(`s${i}`, () => received[i]!++);
        endings.push(ended);
        void ended.then((e) => (early ??= { ...e, message: `stream ${i}: ${e.message}` }));
      }
    };
    try {
      // 7,000 streams from five clients, each delivered.
      open(0, 7_000);
      expect(await deliveredToAll(7_000, new Uint32Array(STREAMS))).toBe(true);

      // One client opens 3,000 streams on one connection (past the listener's 2,048), then vanishes — or is closed
      // by the listener (Bun answers the excess with GOAWAY ENHANCE_YOUR_CALM) — with the streams the proxy relayed
      // for it open: their resets fall on connections of its own, never on the ones the others' streams share.
      const greedy = subscriber(proxy.address);
      let greedyDelivered = 0;
      let greedyEnded = 0;
      const greedyEnds = Array.from({ length: 3_000 }, (_, i) => greedy.subscribe(`g${i}`, () => greedyDelivered++).finally(() => greedyEnded++));
      const t0 = Date.now();
      while (greedyDelivered < 2_000 && greedyEnded < greedyEnds.length && Date.now() - t0 < 30_000) {
        await c.pubsub.publish({ topic: "t", payload: utf8("g") }, c.opts());
        await Bun.sleep(200);
      }
      greedy.session.destroy();
      await Promise.all(greedyEnds);
      expect(early).toBeUndefined();
      expect(await deliveredToAll(7_000, Uint32Array.from(received))).toBe(true);
      expect(early).toBeUndefined();

      // Up to 10,000: all delivered, Get answered promptly throughout.
      open(7_000, STREAMS);
      expect(await deliveredToAll(STREAMS, Uint32Array.from(received))).toBe(true);
      expect(early).toBeUndefined();
      console.log(`Get while ${STREAMS} streams were opened: max ${Math.max(...getMs).toFixed(0)} ms over ${getMs.length} calls`);
      expect(Math.max(...getMs)).toBeLessThan(5_000);

      // The 10,001st stream: refused at once, naming the bound; a unary call still passes.
      const extra = subscriber(proxy.address);
      const refused = await extra.subscribe("over", () => undefined);
      extra.session.destroy();
      expect(refused.code).toBe(Code.RESOURCE_EXHAUSTED);
      expect(refused.message).toContain("max_streams 10000");
      expect((await c.kv.get({ key: "k" }, c.opts())).found).toBe(false);
      expect(early).toBeUndefined();
    } finally {
      for (const s of conns) s.session.destroy();
      c.close();
    }
  }, 300_000);
});
