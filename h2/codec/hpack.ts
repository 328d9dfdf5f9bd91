import { huffmanDecode } from "./huffman";

/** HPACK static table (RFC 7541 Appendix A), index 1–61. */
const STATIC: readonly (readonly [string, string])[] = [
  ["", ""],
  [":authority", ""],
  [":method", "GET"],
  [":method", "POST"],
  [":path", "/"],
  [":path", "/index.html"],
  [":scheme", "http"],
  [":scheme", "https"],
  [":status", "200"],
  [":status", "204"],
  [":status", "206"],
  [":status", "304"],
  [":status", "400"],
  [":status", "404"],
  [":status", "500"],
  ["accept-charset", ""],
  ["accept-encoding", "gzip, deflate"],
  ["accept-language", ""],
  ["accept-ranges", ""],
  ["accept", ""],
  ["access-control-allow-origin", ""],
  ["age", ""],
  ["allow", ""],
  ["authorization", ""],
  ["cache-control", ""],
  ["content-disposition", ""],
  ["content-encoding", ""],
  ["content-language", ""],
  ["content-length", ""],
  ["content-location", ""],
  ["content-range", ""],
  ["content-type", ""],
  ["cookie", ""],
  ["date", ""],
  ["etag", ""],
  ["expect", ""],
  ["expires", ""],
  ["from", ""],
  ["host", ""],
  ["if-match", ""],
  ["if-modified-since", ""],
  ["if-none-match", ""],
  ["if-range", ""],
  ["if-unmodified-since", ""],
  ["last-modified", ""],
  ["link", ""],
  ["location", ""],
  ["max-forwards", ""],
  ["proxy-authenticate", ""],
  ["proxy-authorization", ""],
  ["range", ""],
  ["referer", ""],
  ["refresh", ""],
  ["retry-after", ""],
  ["server", ""],
  ["set-cookie", ""],
  ["strict-transport-security", ""],
  ["transfer-encoding", ""],
  ["user-agent", ""],
  ["vary", ""],
  ["via", ""],
  ["www-authenticate", ""],
];

/** A malformed header block: the connection's decoding state is lost (COMPRESSION_ERROR). */
export class HpackError extends Error {
  override readonly name = "HpackError";
}

/** Receives each decoded header field of a block, in order. */
export type OnHeaderField = (name: string, value: string) => void;

/**
 * HPACK decoder of one connection direction (RFC 7541): static and dynamic table, Huffman strings, table
 * size updates up to the size this side announced. Every block received on the connection must pass through
 * it, in order, even for streams nobody waits for, or the dynamic table goes out of step.
 */
export class HpackDecoder {
  private readonly entries: [string, string][] = [];
  private size = 0;
  private maxSize: number;
  private pos = 0;

  constructor(private readonly protocolMaxSize = 4096) {
    this.maxSize = protocolMaxSize;
  }

  /** Octets the dynamic table holds now (RFC 7541 §4.1): never above the size this side announced. */
  get tableSize(): number {
    return this.size;
  }

  decode(block: Uint8Array, onField: OnHeaderField): void {
    this.pos = 0;
    const end = block.length;
    let fields = false;
    while (this.pos < end) {
      const b = block[this.pos]!;
      // Table size updates may only open a block (RFC 7541 §4.2).
      if ((b & 0xe0) !== 0x20) fields = true;
      if (b & 0x80) {
        const [name, value] = this.entry(this.integer(block, 7));
        onField(name, value);
      } else if (b & 0x40) {
        const idx = this.integer(block, 6);
        const name = idx === 0 ? this.string(block) : this.entry(idx)[0];
        const value = this.string(block);
        this.insert(name, value);
        onField(name, value);
      } else if (b & 0x20) {
        if (fields) throw new HpackError("HPACK: a table size update after a header field");
        const size = this.integer(block, 5);
        if (size > this.protocolMaxSize) throw new HpackError(`HPACK: table size update to ${size} exceeds ${this.protocolMaxSize}`);
        this.maxSize = size;
        this.evict(0);
      } else {
        // Literal without indexing (0000) or never indexed (0001): same layout, 4-bit prefix.
        const idx = this.integer(block, 4);
        const name = idx === 0 ? this.string(block) : this.entry(idx)[0];
        onField(name, this.string(block));
      }
    }
  }

  private entry(index: number): readonly [string, string] {
    if (index >= 1 && index < STATIC.length) return STATIC[index]!;
    const e = this.entries[index - STATIC.length];
    if (index === 0 || e === undefined) throw new HpackError(`HPACK: no table entry ${index}`);
    return e;
  }

  private insert(name: string, value: string): void {
    const size = name.length + value.length + 32;
    this.evict(size);
    if (size > this.maxSize) return; // larger than the whole table: it empties the table and is not added
    this.entries.unshift([name, value]);
    this.size += size;
  }

  /** Drops the oldest entries until `room` more octets fit. */
  private evict(room: number): void {
    while (this.size + room > this.maxSize && this.entries.length > 0) {
      const [n, v] = this.entries.pop()!;
      this.size -= n.length + v.length + 32;
    }
  }

  private integer(block: Uint8Array, prefixBits: number): number {
    const mask = (1 << prefixBits) - 1;
    let v = block[this.pos++]! & mask;
    if (v < mask) return v;
    let shift = 0;
    for (;;) {
      if (this.pos >= block.length) throw new HpackError("HPACK: truncated integer");
      const b = block[this.pos++]!;
      v += (b & 0x7f) * 2 ** shift;
      shift += 7;
      if ((b & 0x80) === 0) return v;
      if (shift > 28) throw new HpackError("HPACK: integer too large");
    }
  }

  private string(block: Uint8Array): string {
    if (this.pos >= block.length) throw new HpackError("HPACK: truncated string");
    const huffman = (block[this.pos]! & 0x80) !== 0;
    const len = this.integer(block, 7);
    const start = this.pos;
    const end = start + len;
    if (end > block.length) throw new HpackError("HPACK: truncated string");
    this.pos = end;
    if (huffman) {
      try {
        return huffmanDecode(block, start, end);
      } catch (err) {
        throw new HpackError((err as Error).message);
      }
    }
    let s = "";
    for (let i = start; i < end; i++) s += String.fromCharCode(block[i]!);
    return s;
  }
}

/** Static-table index by name (first entry), and by name then value for the entries with a value. */
const STATIC_NAME = new Map<string, number>();
const STATIC_PAIR = new Map<string, Map<string, number>>();
for (let i = STATIC.length - 1; i >= 1; i--) {
  const [n, v] = STATIC[i]!;
  STATIC_NAME.set(n, i);
  if (v === "") continue;
  let values = STATIC_PAIR.get(n);
  if (values === undefined) STATIC_PAIR.set(n, (values = new Map()));
  values.set(v, i);
}

/**
 * Writes header blocks without the dynamic table (so the peer's decoder state never depends on what this side
 * sent): exact static entries indexed (:method POST, :scheme http), other names by static index where there is
 * one, everything else as literals without indexing, strings unencoded (latin1). One scratch buffer is reused;
 * each block is returned as a copy of its exact size.
 */
class BlockWriter {
  private buf = Buffer.allocUnsafe(4096);
  private len = 0;

  begin(): void {
    this.len = 0;
  }

  field(name: string, value: string): void {
    const exact = name.charCodeAt(0) === 58 /* ':' */ ? STATIC_PAIR.get(name)?.get(value) : undefined;
    if (exact !== undefined) return this.integer(0x80, 7, exact);
    const byName = STATIC_NAME.get(name);
    this.integer(0x00, 4, byName ?? 0);
    if (byName === undefined) this.string(name);
    this.string(value);
  }

  end(): Uint8Array {
    return Uint8Array.prototype.slice.call(this.buf, 0, this.len);
  }

  private room(n: number): void {
    if (this.len + n <= this.buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.len + n));
    this.buf.copy(bigger, 0, 0, this.len);
    this.buf = bigger;
  }

  private integer(pattern: number, prefixBits: number, v: number): void {
    this.room(6);
    const mask = (1 << prefixBits) - 1;
    if (v < mask) {
      this.buf[this.len++] = pattern | v;
      return;
    }
    this.buf[this.len++] = pattern | mask;
    v -= mask;
    while (v >= 0x80) {
      this.buf[this.len++] = (v & 0x7f) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buf[this.len++] = v;
  }

  private string(s: string): void {
    this.integer(0x00, 7, s.length);
    this.room(s.length);
    this.len += this.buf.write(s, this.len, "latin1");
  }
}

const writer = new BlockWriter();

/** A header block for these fields, in order (build it once and reuse it where the fields repeat). */
export function encodeHeaderBlock(fields: readonly (readonly [string, string])[]): Uint8Array {
  writer.begin();
  for (const [name, value] of fields) writer.field(name, value);
  return writer.end();
}

/**
 * A header block for a received header object (as node:http2 gives them: pseudo-headers first, repeated
 * fields as arrays). Fields named in `drop` are left out.
 */
export function encodeHeaderObject(headers: Readonly<Record<string, string | string[] | number | undefined>>, drop?: ReadonlySet<string>): Uint8Array {
  writer.begin();
  for (const name in headers) {
    if (name.charCodeAt(0) !== 58) continue;
    const v = headers[name];
    if (v !== undefined) writer.field(name, String(v));
  }
  for (const name in headers) {
    if (name.charCodeAt(0) === 58 || drop?.has(name)) continue;
    const v = headers[name];
    if (v === undefined) continue;
    if (Array.isArray(v)) for (const one of v) writer.field(name, one);
    else writer.field(name, String(v));
  }
  return writer.end();
}
