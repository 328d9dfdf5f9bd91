import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import * as grpc from "@grpc/grpc-js";
import { KeyValueBasicInterface } from "../../proto/gen/prism/interfaces/keyvalue/keyvalue_basic_pb";
import { KeyValueScanInterface } from "../../proto/gen/prism/interfaces/keyvalue/keyvalue_scan_pb";
import { frame, rawCall } from "../../tests/helpers/raw_grpc";
import { Code } from "./errors";
import { addService } from "./server";
import { bindServer, serverOptions } from "./server_factory";

// Bad input sent as raw HTTP/2, as a hostile client would: every case is the caller's fault, INVALID_ARGUMENT.
const server = new grpc.Server(serverOptions);
let address = "";
let handlerCalls = 0;

beforeAll(async () => {
  addService(server, KeyValueBasicInterface, {
    get: (req) => {
      handlerCalls++;
      return { found: req.key === "k" };
    },
    set: () => ({ success: true }),
    delete: () => ({ success: true }),
    exists: () => ({ exists: false }),
  });
  addService(server, KeyValueScanInterface, {
    async *scan() {
      handlerCalls++;
      yield { key: "a" };
    },
    async *scanKeys() {},
    count: () => ({ count: 0n }),
  });
  address = `127.0.0.1:${await bindServer(server, "127.0.0.1", 0)}`;
});

afterAll(() => server.forceShutdown());

const GET = "/prism.interfaces.keyvalue.KeyValueBasicInterface/Get";
const SCAN = "/prism.interfaces.keyvalue.KeyValueScanInterface/Scan";
/** GetRequest{key: "k"}. */
const goodGet = Buffer.from([0x0a, 1, 0x6b]);

describe("bad input gets INVALID_ARGUMENT from the adapter", () => {
  test("a well-formed raw call works (the helper is sound)", async () => {
    const r = await rawCall(address, GET, frame(goodGet));
    expect(r.code).toBe(Code.OK);
    expect(r.messages.length).toBe(1);
  });

  test("malformed message bytes (truncated field)", async () => {
    const before = handlerCalls;
    const r = await rawCall(address, GET, frame(Buffer.from([0x0a, 20, 0x41])));
    expect(r.code).toBe(Code.INVALID_ARGUMENT);
    expect(r.message).toContain("malformed prism.interfaces.keyvalue.GetRequest");
    expect(handlerCalls).toBe(before);
  });

  test("invalid UTF-8 in a string field", async () => {
    const r = await rawCall(address, GET, frame(Buffer.from([0x0a, 2, 0xff, 0xfe])));
    expect(r.code).toBe(Code.INVALID_ARGUMENT);
    expect(r.message).toContain("utf-8");
  });

  test("no request message at all, unary and server streaming", async () => {
    for (const path of [GET, SCAN]) {
      const r = await rawCall(address, path, Buffer.alloc(0));
      expect(r.code).toBe(Code.INVALID_ARGUMENT);
      expect(r.message).toContain("no request message");
    }
  });

  test("a length prefix that promises more bytes than come", async () => {
    const r = await rawCall(address, GET, frame(goodGet, 1000));
    expect(r.code).toBe(Code.INVALID_ARGUMENT);
  });

  test("two request messages on a unary call", async () => {
    const r = await rawCall(address, GET, Buffer.concat([frame(goodGet), frame(goodGet)]));
    expect(r.code).toBe(Code.INVALID_ARGUMENT);
  });

  test("a malformed message on a server-streaming call", async () => {
    const r = await rawCall(address, SCAN, frame(Buffer.from([0xff, 0xff, 0xff])));
    expect(r.code).toBe(Code.INVALID_ARGUMENT);
  });
});
