/**
 * The list acceptance suite: what every ListBasicInterface backend must do over
 * gRPC (Redis list semantics). Run it from a one-line test file:
 * `runListSuite("redis", () => startRedisTarget())`. Every test uses its own keys.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { ListBasicInterface } from "../../proto/gen/prism/interfaces/list/list_basic_pb";
import { Code } from "../../sdk/grpc/errors";
import { capabilitiesOf, codeOf, connect, text, uniquePrefix, utf8, type Target } from "./target";

const SERVICES = { list: ListBasicInterface };
type Clients = ReturnType<typeof connect<typeof SERVICES>>;

const values = (...xs: string[]) => xs.map(utf8);
const texts = (vs: Uint8Array[]) => vs.map(text);

/** Registers the list acceptance tests against the target the factory starts (once, for all tests). */
export function runListSuite(name: string, target: () => Promise<Target>): void {
  describe(`list acceptance: ${name}`, () => {
    let t: Target;
    let c: Clients;
    beforeAll(async () => {
      t = await target();
      c = connect(t, SERVICES);
    });
    afterAll(async () => {
      c?.close();
      await t?.close();
    });
    const all = async (key: string) => texts((await c.list.range({ key, start: 0n, stop: -1n })).values);

    test("PushRight appends in order, PushLeft prepends (the last value ends at the head)", async () => {
      const key = uniquePrefix("list-push") + "l";
      expect(await c.list.pushRight({ key, values: values("a", "b", "c") })).toMatchObject({ success: true, length: 3n });
      expect((await c.list.pushLeft({ key, values: values("x", "y") })).length).toBe(5n);
      expect(await all(key)).toEqual(["y", "x", "a", "b", "c"]);
      expect((await c.list.length({ key })).length).toBe(5n);
    });

    test("Range takes inclusive and negative indexes and clips out-of-range ones (LRANGE)", async () => {
      const key = uniquePrefix("list-range") + "l";
      await c.list.pushRight({ key, values: values("0", "1", "2", "3", "4") });
      const r = async (start: number, stop: number) => texts((await c.list.range({ key, start: BigInt(start), stop: BigInt(stop) })).values).join("");
      expect(await r(0, 0)).toBe("0");
      expect(await r(1, 3)).toBe("123");
      expect(await r(-2, -1)).toBe("34");
      expect(await r(-100, 100)).toBe("01234");
      expect(await r(3, 1)).toBe("");
      expect(await r(5, 9)).toBe("");
      expect((await c.list.range({ key: uniquePrefix("list-range") + "missing", start: 0n, stop: -1n })).values).toEqual([]);
    });

    test("PopLeft and PopRight take from both ends, with counts (0 means 1)", async () => {
      const key = uniquePrefix("list-pop") + "l";
      await c.list.pushRight({ key, values: values("a", "b", "c", "d", "e") });
      expect(texts((await c.list.popLeft({ key, count: 0 })).values)).toEqual(["a"]);
      expect(texts((await c.list.popRight({ key, count: 0 })).values)).toEqual(["e"]);
      expect(texts((await c.list.popLeft({ key, count: 2 })).values)).toEqual(["b", "c"]);
      expect(texts((await c.list.popRight({ key, count: 5 })).values)).toEqual(["d"]);
      expect((await c.list.length({ key })).length).toBe(0n);
      expect(await all(key)).toEqual([]);
    });

    test("a missing or emptied list has length 0 and pops nothing, without an error", async () => {
      const key = uniquePrefix("list-missing") + "l";
      expect((await c.list.length({ key })).length).toBe(0n);
      expect((await c.list.popLeft({ key, count: 1 })).values).toEqual([]);
      expect((await c.list.popRight({ key, count: 3 })).values).toEqual([]);
      await c.list.pushLeft({ key, values: values("only") });
      expect(texts((await c.list.popLeft({ key, count: 1 })).values)).toEqual(["only"]);
      expect((await c.list.popLeft({ key, count: 1 })).values).toEqual([]);
    });

    test("as a queue (PushRight + PopLeft) and a stack (PushRight + PopRight)", async () => {
      const p = uniquePrefix("list-order");
      for (const v of ["1", "2", "3"]) await c.list.pushRight({ key: `${p}q`, values: values(v) });
      for (const v of ["1", "2", "3"]) await c.list.pushRight({ key: `${p}s`, values: values(v) });
      const fifo: string[] = [];
      const lifo: string[] = [];
      for (let i = 0; i < 3; i++) {
        fifo.push(...texts((await c.list.popLeft({ key: `${p}q`, count: 1 })).values));
        lifo.push(...texts((await c.list.popRight({ key: `${p}s`, count: 1 })).values));
      }
      expect(fifo).toEqual(["1", "2", "3"]);
      expect(lifo).toEqual(["3", "2", "1"]);
    });

    test("binary and empty values round-trip", async () => {
      const key = uniquePrefix("list-binary") + "l";
      const bytes = new Uint8Array(256).map((_, i) => i);
      await c.list.pushRight({ key, values: [bytes, new Uint8Array(0), utf8("é")] });
      const got = (await c.list.range({ key, start: 0n, stop: -1n })).values;
      expect(got.length).toBe(3);
      expect([...got[0]!]).toEqual([...bytes]);
      expect(got[1]!.length).toBe(0);
      expect(text(got[2]!)).toBe("é");
    });

    test("10 concurrent clients x 100 pushes, then concurrent pops, lose and duplicate nothing", async () => {
      const key = uniquePrefix("list-concurrent") + "l";
      const clients = Array.from({ length: 10 }, () => connect(t, SERVICES));
      try {
        await Promise.all(
          clients.map((cl, ci) => Promise.all(Array.from({ length: 100 }, (_, i) => cl.list.pushRight({ key, values: values(`${ci}:${i}`) })))),
        );
        expect((await c.list.length({ key })).length).toBe(1000n);
        const popped = await Promise.all(
          clients.map(async (cl, ci) => {
            const got: string[] = [];
            for (let i = 0; i < 10; i++) {
              const r = ci % 2 === 0 ? await cl.list.popLeft({ key, count: 10 }) : await cl.list.popRight({ key, count: 10 });
              got.push(...texts(r.values));
            }
            return got;
          }),
        );
        const flat = popped.flat();
        expect(flat.length).toBe(1000);
        expect(new Set(flat).size).toBe(1000);
        expect((await c.list.length({ key })).length).toBe(0n);
      } finally {
        for (const cl of clients) cl.close();
      }
    });

    test("empty keys, empty pushes, oversized values and negative counts are INVALID_ARGUMENT", async () => {
      const { maxKeyBytes, maxValueBytes } = capabilitiesOf(t).limits;
      const key = uniquePrefix("list-invalid") + "l";
      expect(await codeOf(() => c.list.pushRight({ key: "", values: values("v") }))).toBe(Code.INVALID_ARGUMENT);
      expect(await codeOf(() => c.list.pushLeft({ key: "k".repeat(maxKeyBytes + 1), values: values("v") }))).toBe(Code.INVALID_ARGUMENT);
      expect(await codeOf(() => c.list.pushRight({ key, values: [] }))).toBe(Code.INVALID_ARGUMENT);
      expect(await codeOf(() => c.list.pushRight({ key, values: [utf8("ok"), new Uint8Array(maxValueBytes + 1)] }))).toBe(Code.INVALID_ARGUMENT);
      expect(await codeOf(() => c.list.popLeft({ key, count: -1 }))).toBe(Code.INVALID_ARGUMENT);
      expect(await codeOf(() => c.list.length({ key: "" }))).toBe(Code.INVALID_ARGUMENT);
      expect(await codeOf(() => c.list.range({ key: "", start: 0n, stop: -1n }))).toBe(Code.INVALID_ARGUMENT);
      // The refused push with one oversized value wrote nothing.
      expect((await c.list.length({ key })).length).toBe(0n);
    });
  });
}
