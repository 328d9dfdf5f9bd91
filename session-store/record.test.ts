import { describe, expect, test } from "bun:test";
import { decodeRecord, encodeRecord, merge, type SessionRecord } from "./record";

const rec = (version: number, region: string, expiresAt = 1000, attr = `${region}${version}`): SessionRecord => ({
  id: "a".repeat(32),
  owner: "o",
  attributes: { x: new TextEncoder().encode(attr) },
  version,
  createdAt: 1,
  expiresAt,
  ttlSeconds: 60,
  region,
});

describe("the replication rule", () => {
  test("higher version wins, then the greater region id; the expiry is the later one", () => {
    expect(merge(rec(2, "eu"), rec(3, "ap")).version).toBe(3);
    expect(merge(rec(3, "us"), rec(3, "eu")).region).toBe("us");
    expect(merge(rec(3, "eu"), rec(3, "us")).region).toBe("us");
    const touched = merge(rec(3, "us", 1000), rec(3, "eu", 5000));
    expect([touched.region, touched.expiresAt]).toEqual(["us", 5000]);
    expect(merge(undefined, rec(1, "eu")).region).toBe("eu");
  });

  test("commutative, associative and idempotent over every order of a set of changes", () => {
    const changes = [rec(1, "eu", 10), rec(2, "us", 20), rec(2, "eu", 50), rec(3, "ap", 30), rec(3, "eu", 40), rec(3, "us", 5)];
    const key = (r: SessionRecord) => JSON.stringify({ ...r, attributes: Buffer.from(r.attributes.x!).toString() });
    const orders: SessionRecord[][] = [];
    const permute = (rest: SessionRecord[], acc: SessionRecord[]) => {
      if (rest.length === 0) orders.push(acc);
      rest.forEach((r, i) => permute([...rest.slice(0, i), ...rest.slice(i + 1)], [...acc, r]));
    };
    permute(changes, []);
    const results = new Set(orders.map((o) => key(o.reduce<SessionRecord | undefined>((a, b) => merge(merge(a, b), b), undefined)!)));
    expect(results.size).toBe(1);
    const final = JSON.parse([...results][0]!);
    expect([final.version, final.region, final.expiresAt]).toEqual([3, "us", 50]);
  });

  test("records round-trip with binary attributes", () => {
    const r = { ...rec(4, "eu"), attributes: { b: new Uint8Array([0, 255, 7]) }, deleted: true };
    expect(decodeRecord(encodeRecord(r))).toEqual(r);
  });
});
