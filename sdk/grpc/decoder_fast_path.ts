import { StreamDecoder } from "@grpc/grpc-js/build/src/stream-decoder";

/**
 * grpc-js (1.14) splits each HTTP/2 DATA chunk of a call into length-prefixed messages with StreamDecoder.write, a
 * loop over a small state machine. Under Bun's JavaScriptCore that loop leaves its optimized code on about one call
 * in three and never settles (an OSR exit the JIT does not count, recompiled with back-off forever:
 * BUN_JSC_printEachOSRExit=1 on a pattern under load). Nearly every request is one chunk holding exactly one whole
 * message; that chunk is answered before the loop, with the same bytes the loop returns (a copy, as its concat
 * makes). Anything else (a partial message, several, a decoder mid-message, a message over the limit, which the
 * loop rejects) goes to the loop.
 */
type Write = (this: StreamDecoder, data: Buffer) => Buffer[];
interface DecoderState {
  readState: number;
  maxReadMessageLength: number;
}

const NO_DATA = 0; // grpc-js ReadState.NO_DATA: between messages
const LOOP = Symbol("prism.streamDecoderLoop");

export function withWholeMessageFastPath(loop: Write): Write {
  const write = function (this: StreamDecoder, data: Buffer): Buffer[] {
    const self = this as unknown as DecoderState;
    if (self.readState === NO_DATA && data.length >= 5) {
      const size = data.readUInt32BE(1);
      if (data.length - 5 === size && (self.maxReadMessageLength === -1 || size <= self.maxReadMessageLength)) return [Buffer.from(data)];
    }
    return loop.call(this, data);
  };
  return Object.assign(write, { [LOOP]: loop });
}

/** grpc-js's own StreamDecoder.write, whether or not the fast path is installed. */
export function loopWrite(): Write {
  const write = StreamDecoder.prototype.write as Write & { [LOOP]?: Write };
  return write[LOOP] ?? write;
}

/** Puts the fast path in front of StreamDecoder.write for every grpc-js call in this process; once. */
export function installDecoderFastPath(): void {
  const proto = StreamDecoder.prototype as unknown as { write: Write & { [LOOP]?: Write } };
  if (proto.write[LOOP] === undefined) proto.write = withWholeMessageFastPath(proto.write);
}
