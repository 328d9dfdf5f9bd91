/**
 * No error on one client's stream may end the proxy (issue 18, item 12). A call the proxy answers itself (unknown
 * namespace, unreachable pattern) while its request body is still arriving leaves the stream half open; grpc-go
 * then closes its connection with GOAWAY (last stream id 1), which Bun's node:http2 server takes for a protocol
 * error and destroys the stream with: that 'error' event had no listener, and the proxy process died. Also
 * (item 10): request headers past the listener's bound get an answer on their call, not a bare connection error.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { create, toBinary } from "@bufbuild/protobuf";
import { SetRequestSchema } from "../../proto/gen/prism/interfaces/keyvalue/keyvalue_basic_pb";
import { Code } from "../../sdk/grpc/errors";
import { FLAG, FRAME, frame, goawayFrame } from "../../h2/codec/frames";
import { encodeHeaderObject, HpackDecoder } from "../../h2/codec/hpack";
import { goCall } from "../interop/go_tools";
import { clientsFor, pidAlive, startProxy, type StartedProxy } from "./harness";
import { grpcRequest, RawH2 } from "./raw_h2";

const SET = "/prism.interfaces.keyvalue.KeyValueBasicInterface/Set";

const uncaught = async (p: StartedProxy) => {
  let sum = 0;
  for (const m of (await p.metrics()).matchAll(/^prism_proxy_uncaught_errors_total\{kind="\w+"\} (\d+)/gm)) sum += Number(m[1]);
  return sum;
};

describe("errors on calls the proxy answers itself", () => {
  let proxy: StartedProxy;
  const bigSet = toBinary(SetRequestSchema, create(SetRequestSchema, { key: "big", value: new Uint8Array(Math.floor(7.9 * 1024 * 1024)) }));
  beforeAll(async () => {
    // "gone" is a remote pattern nothing listens at: calls to it are answered UNAVAILABLE by the proxy.
    proxy = await startProxy(`
namespaces:
  - name: default
    pattern: memstore
  - name: gone
    address: 127.0.0.1:1
`);
  }, 60_000);
  afterAll(async () => {
    await proxy?.stop(20_000);
    proxy?.cleanup();
  });

  const stillServing = async () => {
    expect(pidAlive(proxy.pid)).toBe(true);
    const c = clientsFor(proxy.address, "default");
    try {
      expect((await c.kv.set({ key: "after", value: new Uint8Array([1]) }, c.opts())).success).toBe(true);
    } finally {
      c.close();
    }
  };

  test("a grpc-go client sending a 7.9 MiB Set to an unknown namespace, then closing, gets NOT_FOUND each time; the proxy lives", async () => {
    const results = await goCall(proxy.address, SET, bigSet, { metadata: { "x-prism-namespace": "nope" }, repeat: 6 });
    expect(results.map((r) => r.code)).toEqual(Array(6).fill(Code.NOT_FOUND));
    await stillServing();
    expect(await uncaught(proxy)).toBe(0);
  }, 60_000);

  test("the same to a namespace whose pattern is unreachable gets UNAVAILABLE; the proxy lives", async () => {
    const results = await goCall(proxy.address, SET, bigSet, { metadata: { "x-prism-namespace": "gone" }, repeat: 4 });
    expect(results.map((r) => r.code)).toEqual(Array(4).fill(Code.UNAVAILABLE));
    await stillServing();
    expect(await uncaught(proxy)).toBe(0);
  }, 60_000);

  test("oversized request headers are answered RESOURCE_EXHAUSTED on their call, not a bare connection error", async () => {
    const c = await RawH2.connect(proxy.address);
    try {
      const block = Buffer.from(encodeHeaderObject(grpcRequest(SET, { "x-prism-namespace": "default", "x-big": "a".repeat(100_000) })));
      for (let at = 0; at < block.length; at += 16_384) {
        c.send(frame(at === 0 ? FRAME.HEADERS : FRAME.CONTINUATION, at + 16_384 >= block.length ? FLAG.END_HEADERS : 0, 1, block.subarray(at, at + 16_384)));
      }
      const answer = await c.waitFor((f) => f.type === FRAME.HEADERS && f.streamId === 1);
      const fields: Record<string, string> = {};
      new HpackDecoder().decode(answer!.payload, (n, v) => (fields[n] = v));
      expect(fields["grpc-status"]).toBe(String(Code.RESOURCE_EXHAUSTED));
    } finally {
      c.destroy();
    }
    await stillServing();
  }, 30_000);

  test("frames by hand: a request body still open when the answer comes, then GOAWAY(last stream 1) and FIN", async () => {
    for (const namespace of ["nope", "gone", "nope"]) {
      const c = await RawH2.connect(proxy.address);
      c.headers(1, grpcRequest(SET, { "x-prism-namespace": namespace }));
      c.data(1, 65_535);
      expect(await c.waitFor((f) => f.type === 1 && f.streamId === 1)).toBeDefined();
      c.send(goawayFrame(1, 0));
      c.end();
      expect(await c.waitClosed()).toBe(true);
    }
    await stillServing();
    expect(await uncaught(proxy)).toBe(0);
  }, 30_000);
});
