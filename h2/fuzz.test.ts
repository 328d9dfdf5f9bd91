/**
 * Property-based fuzzing (fast-check, fixed seeds and run counts so it finishes in seconds) of what parses bytes a
 * server controls: the HPACK decoder, the Huffman decoder, the frame reader, and the connection's frame handling
 * behind a real socket. Each input must be handled in bounded time and memory, and fail only in the ways the
 * protocol names (HpackError, a lost stream), never with an uncaught exception or a hang.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import fc from "fast-check";
import { type HostileServer, startHostileServer } from "../tests/helpers/hostile_h2_server";
import { H2ClientConnection } from "./index";
import { FrameReader } from "./codec/frame_reader";
import { FRAME_HEADER_BYTES, frame, settingsFrame } from "./codec/frames";
import { encodeHeaderBlock, HpackDecoder, HpackError } from "./codec/hpack";
import { huffmanDecode } from "./codec/huffman";
import { HEADER_TABLE_SIZE } from "./codec/limits";

/** Per input: generous for a loaded CI machine, far below what the quadratic and unbounded cases of issue 18 took. */
const MAX_MS_PER_INPUT = 50;

const field = fc.tuple(fc.string({ maxLength: 40 }), fc.string({ maxLength: 200 }));

/** A valid block (static-indexed and literal fields), then mutated: bytes flipped, inserted and cut. */
const mutatedBlock = fc
  .tuple(
    fc.array(field, { maxLength: 30 }),
    fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }),
    fc.nat(),
    fc.uint8Array({ maxLength: 16 }),
  )
  .map(([fields, flips, cut, insert]) => {
    const b = Buffer.from(encodeHeaderBlock(fields.map(([n, v]) => [n.toLowerCase(), v])));
    for (const [at, v] of flips) if (b.length > 0) b[at % b.length] = v;
    const at = b.length === 0 ? 0 : cut % b.length;
    return Uint8Array.from(Buffer.concat([b.subarray(0, at), insert, b.subarray(at)]));
  });

/** Blocks that lean on the dynamic table: literal-with-indexing entries, size updates, indexed references. */
const tableHeavyBlock = fc
  .array(
    fc.oneof(
      fc.constant([0x40, 1, 0x61, 0x7f, 0x20, ...new Array(0x7f + 0x20).fill(0x62)]),
      fc.integer({ min: 0x80, max: 0xff }).map((b) => [b]),
      fc.integer({ min: 0, max: 31 }).map((n) => [0x20 | n]),
      fc.constant([0x3f, 0xe1, 0x1f]),
    ),
    { maxLength: 200 },
  )
  .map((parts) => Uint8Array.from(parts.flat()));

function decodeBounded(block: Uint8Array, d = new HpackDecoder(HEADER_TABLE_SIZE)): void {
  const started = performance.now();
  let chars = 0;
  try {
    d.decode(block, (n, v) => {
      chars += n.length + v.length;
    });
  } catch (err) {
    expect(err).toBeInstanceOf(HpackError);
  }
  expect(performance.now() - started).toBeLessThan(MAX_MS_PER_INPUT);
  // A byte of the block yields at most one table entry's worth of text; the table never outgrows what was announced.
  expect(chars).toBeLessThanOrEqual(block.length * HEADER_TABLE_SIZE);
  expect(d.tableSize).toBeLessThanOrEqual(HEADER_TABLE_SIZE);
}

describe("HPACK decoder", () => {
  test("random bytes: decoded or HpackError, each within bounds", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 4096 }), (b) => decodeBounded(b)),
      { numRuns: 2_000, seed: 18 },
    );
  });

  test("mutated valid blocks, on one decoder in sequence (its table carried from block to block)", () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(mutatedBlock, tableHeavyBlock), { minLength: 1, maxLength: 20 }), (blocks) => {
        const d = new HpackDecoder(HEADER_TABLE_SIZE);
        for (const b of blocks) decodeBounded(b, d);
      }),
      { numRuns: 300, seed: 18 },
    );
  });

  test("valid blocks round-trip", () => {
    fc.assert(
      fc.property(fc.array(field, { maxLength: 30 }), (fields) => {
        const lower = fields.map(([n, v]): [string, string] => [n.toLowerCase(), v]);
        // The encoder writes latin1: compare with what survives that.
        const latin1 = lower.map(([n, v]): [string, string] => [Buffer.from(n, "latin1").toString("latin1"), Buffer.from(v, "latin1").toString("latin1")]);
        const out: [string, string][] = [];
        new HpackDecoder().decode(encodeHeaderBlock(lower), (n, v) => out.push([n, v]));
        expect(out).toEqual(latin1);
      }),
      { numRuns: 300, seed: 18 },
    );
  });
});

test("Huffman decoder: random bytes decode or throw, in time linear in the input", () => {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 8192 }), (b) => {
      const started = performance.now();
      try {
        // The shortest code is 5 bits.
        expect(huffmanDecode(b, 0, b.length).length).toBeLessThanOrEqual(Math.ceil((b.length * 8) / 5));
      } catch (err) {
        expect((err as Error).message).toMatch(/^HPACK: /);
      }
      expect(performance.now() - started).toBeLessThan(MAX_MS_PER_INPUT);
    }),
    { numRuns: 1_000, seed: 18 },
  );
});

describe("frame reader", () => {
  const frameArb = fc.record({
    type: fc.integer({ min: 0, max: 255 }),
    flags: fc.integer({ min: 0, max: 255 }),
    id: fc.integer({ min: 0, max: 0x7fffffff }),
    payload: fc.uint8Array({ maxLength: 300 }),
  });

  test("frames split at any points come out whole, in order, the same as from one read", () => {
    fc.assert(
      fc.property(fc.array(frameArb, { maxLength: 30 }), fc.array(fc.integer({ min: 1, max: 64 }), { minLength: 1, maxLength: 50 }), (frames, cuts) => {
        const bytes = Buffer.concat(frames.map((f) => frame(f.type, f.flags, f.id, f.payload)));
        const seen: { type: number; flags: number; id: number; payload: Uint8Array }[] = [];
        const reader = new FrameReader(
          16_384,
          (type, flags, id, payload) => {
            seen.push({ type, flags, id, payload: Uint8Array.from(payload) });
            return true;
          },
          () => {
            throw new Error("no frame here is oversized");
          },
        );
        let off = 0;
        for (let i = 0; off < bytes.length; i++) {
          const n = cuts[i % cuts.length]!;
          reader.push(bytes.subarray(off, off + n));
          off += n;
        }
        expect(seen).toEqual(frames.map((f) => ({ ...f, payload: Uint8Array.from(f.payload) })));
      }),
      { numRuns: 500, seed: 18 },
    );
  });

  test("random bytes in random reads: no frame above the limit is ever assembled", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 20_000 }), fc.integer({ min: 1, max: 4096 }), (bytes, step) => {
        const max = 1_024;
        let stopped = false;
        const reader = new FrameReader(
          max,
          (_t, _f, _i, payload) => {
            expect(payload.length).toBeLessThanOrEqual(max);
            return true;
          },
          (len) => {
            expect(len).toBeGreaterThan(max);
            stopped = true;
          },
        );
        const started = performance.now();
        const buf = Buffer.from(bytes);
        for (let off = 0; off < buf.length && !stopped; off += step) reader.push(buf.subarray(off, off + step));
        expect(performance.now() - started).toBeLessThan(MAX_MS_PER_INPUT);
      }),
      { numRuns: 500, seed: 18 },
    );
  });
});

describe("connection frame handling", () => {
  // Each run: a fresh connection; after its SETTINGS the server writes the run's bytes for the request, then closes.
  let reply: Uint8Array = new Uint8Array(0);
  let server: HostileServer;
  beforeAll(async () => {
    server = await startHostileServer({
      onRequest: (conn) => {
        conn.socket.write(reply);
        conn.socket.end();
      },
    });
  });
  afterAll(() => server.close());

  const BLOCK = encodeHeaderBlock([
    [":method", "POST"],
    [":scheme", "http"],
    [":path", "/f.F/F"],
    [":authority", "x"],
  ]);
  // Frames near the ones a response uses: stream 1 (the request), 0, 2, 3; every type; small payloads.
  const nearFrame = fc
    .record({
      type: fc.oneof(fc.integer({ min: 0, max: 9 }), fc.integer({ min: 10, max: 255 })),
      flags: fc.integer({ min: 0, max: 255 }),
      id: fc.constantFrom(0, 1, 1, 1, 2, 3),
      payload: fc.oneof(fc.uint8Array({ maxLength: 40 }), fc.constant(Uint8Array.from([0x88])), fc.constant(new Uint8Array(8))),
    })
    .map((f) => frame(f.type, f.flags, f.id, f.payload));
  const response = Buffer.concat([
    frame(0x1, 0x4, 1, Uint8Array.from([0x88])),
    frame(0x0, 0x0, 1, new Uint8Array(5)),
    frame(0x1, 0x5, 1, encodeHeaderBlock([["grpc-status", "0"]])),
  ]);
  const mutatedResponse = fc
    .tuple(fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }), fc.array(nearFrame, { maxLength: 6 }), fc.nat())
    .map(([flips, extra, at]) => {
      const b = Buffer.from(response);
      for (const [i, v] of flips) b[FRAME_HEADER_BYTES + (i % (b.length - FRAME_HEADER_BYTES))] = v;
      const cut = at % (extra.length + 1);
      return Buffer.concat([...extra.slice(0, cut), b, ...extra.slice(cut)]);
    });

  test("random and mutated responses: the stream ends or is lost (never a hang, never an uncaught error)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          mutatedResponse,
          fc.array(nearFrame, { maxLength: 12 }).map((fs) => Buffer.concat([settingsFrame([]), ...fs])),
        ),
        async (bytes) => {
          reply = bytes;
          const conn = new H2ClientConnection({ host: "127.0.0.1", port: server.port, connectTimeoutMs: 2_000 });
          try {
            const ended = await new Promise<string>((resolve) => {
              const timer = setTimeout(() => resolve("hang"), 2_000);
              const done = (how: string) => {
                clearTimeout(timer);
                resolve(how);
              };
              conn.open(BLOCK, new Uint8Array(5), {
                onField: () => undefined,
                onHeadersEnd: (end) => end && done("end"),
                onData: (_c, end) => end && done("end"),
                onReset: () => done("reset"),
                onLost: () => done("lost"),
              });
            });
            expect(ended).not.toBe("hang");
          } finally {
            conn.close(true);
          }
        },
      ),
      { numRuns: 150, seed: 18 },
    );
  }, 30_000);
});
