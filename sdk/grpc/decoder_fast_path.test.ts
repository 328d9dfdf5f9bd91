import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { StreamDecoder } from "@grpc/grpc-js/build/src/stream-decoder";
import { installDecoderFastPath, loopWrite, withWholeMessageFastPath } from "./decoder_fast_path";

const frame = (body: Uint8Array, compressed = false): Buffer => {
  const out = Buffer.alloc(5 + body.length);
  out[0] = compressed ? 1 : 0;
  out.writeUInt32BE(body.length, 1);
  out.set(body, 5);
  return out;
};

/** What a decoder returns for each chunk, or the error it throws (then it is done). */
function decode(write: (this: StreamDecoder, data: Buffer) => Buffer[], max: number, chunks: Buffer[]): Array<string[] | string> {
  const d = new StreamDecoder(max);
  const out: Array<string[] | string> = [];
  for (const c of chunks) {
    try {
      out.push(write.call(d, c).map((m) => m.toString("hex")));
    } catch (err) {
      out.push(`error: ${(err as Error).message}`);
      break;
    }
  }
  return out;
}

describe("StreamDecoder whole-message fast path", () => {
  const loop = loopWrite();
  const fast = withWholeMessageFastPath(loop);

  test("returns what grpc-js's loop returns, for any messages cut into any chunks, under any size limit", () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ body: fc.uint8Array({ maxLength: 40 }), compressed: fc.boolean() }), { minLength: 1, maxLength: 6 }),
        fc.array(fc.nat({ max: 60 }), { maxLength: 8 }),
        fc.oneof(fc.constant(-1), fc.nat({ max: 45 })),
        (messages, cuts, max) => {
          const stream = Buffer.concat(messages.map((m) => frame(m.body, m.compressed)));
          const points = [...new Set(cuts.map((c) => c % (stream.length + 1)))].sort((a, b) => a - b);
          const chunks: Buffer[] = [];
          let at = 0;
          for (const p of [...points, stream.length]) {
            if (p > at) chunks.push(stream.subarray(at, p));
            at = Math.max(at, p);
          }
          expect(decode(fast, max, chunks)).toEqual(decode(loop, max, chunks));
        },
      ),
      { numRuns: 2_000 },
    );
  });

  test("a whole message comes back as a copy: the chunk's memory may be reused once the data event returns", () => {
    const chunk = frame(Buffer.from("hello"));
    const [msg] = fast.call(new StreamDecoder(-1), chunk);
    chunk.fill(0);
    expect(msg!.subarray(5).toString()).toBe("hello");
  });

  test("installed once on the prototype, the loop still reachable", () => {
    installDecoderFastPath();
    installDecoderFastPath();
    expect(loopWrite()).toBe(loop);
    expect(StreamDecoder.prototype.write).not.toBe(loop);
    expect(new StreamDecoder(-1).write(frame(Buffer.from("x")))).toEqual([frame(Buffer.from("x"))]);
  });
});
