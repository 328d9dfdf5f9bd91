import { describe, expect, test } from "bun:test";
import { encodeHeaderBlock, HpackDecoder, HpackError } from "./hpack";

const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ""), "hex"));

function decodeAll(d: HpackDecoder, block: Uint8Array): [string, string][] {
  const out: [string, string][] = [];
  d.decode(block, (n, v) => out.push([n, v]));
  return out;
}

describe("HPACK decoder, RFC 7541 Appendix C", () => {
  test("C.3: requests without Huffman coding, sharing the dynamic table", () => {
    const d = new HpackDecoder();
    expect(decodeAll(d, hex("8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d"))).toEqual([
      [":method", "GET"],
      [":scheme", "http"],
      [":path", "/"],
      [":authority", "www.example.com"],
    ]);
    expect(decodeAll(d, hex("8286 84be 5808 6e6f 2d63 6163 6865"))).toEqual([
      [":method", "GET"],
      [":scheme", "http"],
      [":path", "/"],
      [":authority", "www.example.com"],
      ["cache-control", "no-cache"],
    ]);
    expect(decodeAll(d, hex("8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65"))).toEqual([
      [":method", "GET"],
      [":scheme", "https"],
      [":path", "/index.html"],
      [":authority", "www.example.com"],
      ["custom-key", "custom-value"],
    ]);
  });

  test("C.4: the same requests with Huffman coding", () => {
    const d = new HpackDecoder();
    expect(decodeAll(d, hex("8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff"))).toEqual([
      [":method", "GET"],
      [":scheme", "http"],
      [":path", "/"],
      [":authority", "www.example.com"],
    ]);
    expect(decodeAll(d, hex("8286 84be 5886 a8eb 1064 9cbf"))).toEqual([
      [":method", "GET"],
      [":scheme", "http"],
      [":path", "/"],
      [":authority", "www.example.com"],
      ["cache-control", "no-cache"],
    ]);
    expect(decodeAll(d, hex("8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf"))).toEqual([
      [":method", "GET"],
      [":scheme", "https"],
      [":path", "/index.html"],
      [":authority", "www.example.com"],
      ["custom-key", "custom-value"],
    ]);
  });

  test("C.5: responses evicting from a 256-octet table", () => {
    const d = new HpackDecoder(256);
    // The table size update (0x3f e1 01 = 256) first, then the first response of C.5.1.
    const first = decodeAll(
      d,
      hex(
        "3fe101 4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70 6c65 2e63 6f6d",
      ),
    );
    expect(first).toEqual([
      [":status", "302"],
      ["cache-control", "private"],
      ["date", "Mon, 21 Oct 2013 20:13:21 GMT"],
      ["location", "https://www.example.com"],
    ]);
    // C.5.2: ":status 307" evicts ":status 302"; the rest is indexed from the dynamic table.
    expect(decodeAll(d, hex("4803 3330 37c1 c0bf"))).toEqual([
      [":status", "307"],
      ["cache-control", "private"],
      ["date", "Mon, 21 Oct 2013 20:13:21 GMT"],
      ["location", "https://www.example.com"],
    ]);
  });

  test("malformed blocks are compression errors", () => {
    expect(() => decodeAll(new HpackDecoder(), hex("be"))).toThrow(HpackError); // no dynamic entry 62
    expect(() => decodeAll(new HpackDecoder(), hex("0003 61"))).toThrow(HpackError); // truncated string
    expect(() => decodeAll(new HpackDecoder(), hex("0081 00 8100"))).toThrow(/padding/); // padding not all ones
    expect(() => decodeAll(new HpackDecoder(4096), hex("3fe21f"))).toThrow(/exceeds/); // table size above the announced one
  });
});

test("encoded blocks decode to the same fields", () => {
  const fields: [string, string][] = [
    [":method", "POST"],
    [":scheme", "http"],
    [":path", "/prism.interfaces.keyvalue.KeyValueBasicInterface/Get"],
    [":authority", "127.0.0.1:8980"],
    ["content-type", "application/grpc"],
    ["te", "trailers"],
    ["x-prism-namespace", "a".repeat(300)],
    ["grpc-timeout", "5000m"],
  ];
  const block = encodeHeaderBlock(fields);
  expect(block[0]).toBe(0x83); // :method POST, indexed
  expect(decodeAll(new HpackDecoder(), block)).toEqual(fields);
});
