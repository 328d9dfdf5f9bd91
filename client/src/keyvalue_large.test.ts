/**
 * The key-value module's large-value calls against a scripted in-process server (grpc-js): setStream sends the
 * start (total_size, expected_version) then the value in chunks, retried under one idempotency key for a
 * Uint8Array and sent once for an iterable; getStream / getAll read the header then the chunks, and getAll
 * refuses a value past its bound from the header. The same calls against real patterns: tests/acceptance/
 * keyvalue_pattern_*.test.ts "(via @prism/client)".
 */
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { create } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { CapabilitiesSchema, KeyValuePattern, type StoreStreamRequest } from "../../proto/gen/prism/patterns/keyvalue/keyvalue_pattern_pb";
import { serviceDefinition } from "../../sdk/grpc/definition";
import { Code, connect, PrismClientError } from "./index";

// biome-ignore lint/suspicious/noExplicitAny: each handler takes the call type of its method
type Handler = (call: any, cb?: grpc.sendUnaryData<unknown>) => void;

let server: grpc.Server;
let address = "";
let handlers: Record<string, Handler> = {};
const caps = create(CapabilitiesSchema, { supportsChunkedValues: true, supportsConditionalWrites: true, slots: { primaryBackendType: "scripted" } });

beforeAll(async () => {
  server = new grpc.Server();
  const impl = Object.fromEntries(
    KeyValuePattern.methods.map((m) => [
      m.localName,
      (call: grpc.ServerUnaryCall<unknown, unknown>, cb?: grpc.sendUnaryData<unknown>) =>
        m.localName === "getCapabilities" ? cb!(null, caps) : handlers[m.localName]!(call, cb),
    ]),
  );
  server.addService(serviceDefinition(KeyValuePattern), impl);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  address = `127.0.0.1:${port}`;
});
afterAll(() => server.forceShutdown());
afterEach(() => {
  handlers = {};
});

const fast = { initialBackoffMs: 1, maxBackoffMs: 5 };
const bytes = (n: number, seed = 1) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);

/** Records every StoreStream attempt (its key and messages); fails the first `failures` with UNAVAILABLE after reading them all. */
function recordingStore(failures: number) {
  const attempts: { key: string | undefined; messages: StoreStreamRequest[] }[] = [];
  const handler = (call: grpc.ServerReadableStream<StoreStreamRequest, unknown>, cb?: grpc.sendUnaryData<unknown>) => {
    const messages: StoreStreamRequest[] = [];
    call.on("data", (m: StoreStreamRequest) => messages.push(m));
    call.on("error", () => {});
    call.on("end", () => {
      attempts.push({ key: call.metadata.get("x-prism-idempotency-key")[0] as string | undefined, messages });
      if (attempts.length <= failures) cb!({ code: grpc.status.UNAVAILABLE, details: "broken mid-call" } as grpc.ServiceError, null);
      else cb!(null, { success: true, version: `v${attempts.length}` });
    });
  };
  return { attempts, handler: handler as Handler };
}

/** The bytes of a recorded attempt's chunks, and its start. */
const sent = (messages: StoreStreamRequest[]) => ({
  start: messages[0]!.part.case === "start" ? messages[0]!.part.value : undefined,
  bytes: Buffer.concat(messages.slice(1).map((m) => (m.part.case === "chunk" ? m.part.value : new Uint8Array()))),
  chunks: messages.length - 1,
});

describe("setStream", () => {
  test("a Uint8Array is sent in 1 MiB chunks with total_size and expected_version, and retried with the same idempotency key", async () => {
    const rec = recordingStore(1);
    handlers.storeStream = rec.handler;
    const c = await connect({ address, retry: fast });
    try {
      const value = bytes(2.5 * 2 ** 20);
      expect(await c.keyValue.setStream("big", value, { ifVersion: "v0" })).toBe("v2");
      expect(rec.attempts.length).toBe(2);
      expect(rec.attempts[0]!.key).toBeString();
      expect(rec.attempts[1]!.key).toBe(rec.attempts[0]!.key);
      for (const a of rec.attempts) {
        const s = sent(a.messages);
        expect(s.start).toMatchObject({ key: "big", totalSize: BigInt(value.byteLength), expectedVersion: "v0" });
        expect(s.chunks).toBe(3);
        expect(s.bytes.equals(Buffer.from(value))).toBe(true);
      }
    } finally {
      c.close();
    }
  });

  test("an async iterable of chunks needs its size, is cut to 1 MiB messages, and is sent once (its failure is not retried)", async () => {
    const rec = recordingStore(1);
    handlers.storeStream = rec.handler;
    const c = await connect({ address, retry: fast });
    try {
      const parts = [bytes(100), bytes(1.5 * 2 ** 20, 2)];
      const source = async function* () {
        yield* parts;
      };
      const missing = await c.keyValue.setStream("k", source()).catch((e) => e);
      expect([missing.code, missing.message]).toEqual([Code.INVALID_ARGUMENT, "setStream: a value given as chunks needs its size"]);
      const size = parts[0]!.byteLength + parts[1]!.byteLength;
      const err = await c.keyValue.setStream("k", source(), { size }).catch((e) => e);
      expect(err).toBeInstanceOf(PrismClientError);
      expect(err.code).toBe(Code.UNAVAILABLE);
      expect(rec.attempts.length).toBe(1);
      const s = sent(rec.attempts[0]!.messages);
      expect([s.start?.totalSize, s.chunks]).toEqual([BigInt(size), 3]);
      expect(s.bytes.equals(Buffer.concat(parts))).toBe(true);
      expect(await c.keyValue.setStream("k", source(), { size })).toBe("v2");
    } finally {
      c.close();
    }
  });
});

describe("getStream and getAll", () => {
  const serve = (found: boolean, value: Uint8Array, chunk: number) =>
    ((call: grpc.ServerWritableStream<unknown, unknown>) => {
      call.write({ part: { case: "header", value: { found, version: "v7", totalSize: BigInt(value.byteLength) } } });
      for (let at = 0; at < value.byteLength; at += chunk) call.write({ part: { case: "chunk", value: value.subarray(at, at + chunk) } });
      call.end();
    }) as Handler;

  test("getStream yields the header then the chunks; getAll concatenates them up to maxBytes and refuses past it", async () => {
    const value = bytes(300_000, 3);
    handlers.retrieveStream = serve(true, value, 64 * 1024);
    const c = await connect({ address, retry: fast });
    try {
      const v = await c.keyValue.getStream("k");
      expect([v.found, v.version, v.totalSize]).toEqual([true, "v7", 300_000n]);
      const chunks = await Array.fromAsync(v.chunks);
      expect(chunks.length).toBe(5);
      expect(Buffer.concat(chunks).equals(Buffer.from(value))).toBe(true);

      expect(Buffer.from((await c.keyValue.getAll("k", { maxBytes: 300_000 }))!).equals(Buffer.from(value))).toBe(true);
      const over = await c.keyValue.getAll("k", { maxBytes: 299_999 }).catch((e) => e);
      expect([over.code, over.reason]).toEqual([Code.RESOURCE_EXHAUSTED, "exhausted"]);
      expect(over.message).toContain("300000 bytes, more than maxBytes 299999");

      handlers.retrieveStream = serve(false, new Uint8Array(), 1);
      expect(await c.keyValue.getAll("missing", { maxBytes: 10 })).toBeUndefined();
    } finally {
      c.close();
    }
  });

  test("an aborted signal ends a read half-way with CANCELLED", async () => {
    handlers.retrieveStream = serve(true, bytes(1 << 20, 4), 16 * 1024);
    const c = await connect({ address, retry: fast });
    try {
      const ac = new AbortController();
      const v = await c.keyValue.getStream("k", { signal: ac.signal });
      let read = 0;
      const err = await (async () => {
        for await (const chunk of v.chunks) {
          read += chunk.byteLength;
          if (read >= 64 * 1024) ac.abort();
        }
      })().catch((e) => e);
      expect(err).toBeInstanceOf(PrismClientError);
      expect(err.code).toBe(Code.CANCELLED);
      expect(read).toBeLessThan(1 << 20);
    } finally {
      c.close();
    }
  });
});
