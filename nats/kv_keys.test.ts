import { describe, expect, test } from "bun:test";
import { decodeToken, encodeToken, KvKeys } from "./kv_keys";

/** nats.js's own key check (lib/jetstream/kv.js validateKey). */
const validNatsKey = (k: string) => /^[-/=.\w]+$/.test(k) && !k.startsWith(".") && !k.endsWith(".");

const ODD = ["plain-key_1/2", "a.b", "..", ".", "a b", "*", ">", "a=b", "=41", "ü", "😀", "\0", "\n\t", "%2F", "$KV.x", "ends.", "🙂.🙃", "=", "x".repeat(300)];

describe("NATS KV key encoding", () => {
  test("every odd key maps to one valid NATS key token and back", () => {
    const keys = new KvKeys("orders");
    for (const k of ODD) {
      const t = encodeToken(k);
      expect(t.includes(".")).toBe(false);
      expect(validNatsKey(keys.natsKey(k))).toBe(true);
      expect(decodeToken(t)).toBe(k);
      expect(keys.prismKey(keys.natsKey(k))).toBe(k);
    }
  });

  test("readable keys stay readable; the escape character itself is escaped", () => {
    expect(encodeToken("user/42-a_b")).toBe("user/42-a_b");
    expect(encodeToken("a.b=c")).toBe("a=2Eb=3Dc");
    expect(encodeToken("é")).toBe("=C3=A9");
  });

  test("the mapping is injective and keeps prefixes", () => {
    const all = new Set(ODD.map(encodeToken));
    expect(all.size).toBe(ODD.length);
    for (const a of ODD) for (const b of ODD) expect(encodeToken(a + b).startsWith(encodeToken(a))).toBe(true);
    expect(encodeToken("ab").startsWith(encodeToken("b"))).toBe(false);
  });

  test("tokens it cannot produce are not taken for keys", () => {
    for (const bad of ["=4", "=zz", "=41", "a b", "a.b", "=FF"]) expect(decodeToken(bad)).toBeUndefined();
    const keys = new KvKeys("orders");
    expect(keys.prismKey("other.k")).toBeUndefined();
    expect(keys.prismKey("orders.k")).toBe("k");
    expect(new KvKeys("a.b").namespaceToken).toBe("a=2Eb");
  });
});
