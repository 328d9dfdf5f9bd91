/**
 * The Multicast Registry acceptance suite, run against every slot combination (tests/multicast/*.test.ts):
 * capabilities, register / enumerate / paging, filters (the same expected sets whether the registry
 * backend evaluates them natively or the pattern does), expiry and heartbeat, multicast and subscribe,
 * the durability-optional behaviour, bad input, and per-identity failures when messaging is down.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { fromJson, type JsonObject, type JsonValue, type MessageInitShape } from "@bufbuild/protobuf";
import { ValueSchema } from "@bufbuild/protobuf/wkt";
import {
  DeliveryStatus,
  FilterPerformance,
  type FilterSchema,
  MulticastPerformance,
  MulticastRegistryPattern,
  type MulticastMessage,
  Operator,
} from "../../proto/gen/prism/patterns/multicast_registry/multicast_registry_pattern_pb";
import { Code } from "../../sdk/grpc/errors";
import { codeOf, connect, eventually, text, utf8 } from "../acceptance/target";
import { expectAbsent, waitFor } from "../helpers/wait";
import type { MulticastTarget } from "./targets";

type FilterInit = MessageInitShape<typeof FilterSchema>;
type Client = ReturnType<typeof open>;

const value = (x: JsonValue) => fromJson(ValueSchema, x);
export const cond = (field: string, op: Operator, v?: JsonValue, values?: JsonValue[]): FilterInit => ({
  kind: { case: "condition", value: { field, op, value: v === undefined ? undefined : value(v), values: (values ?? []).map(value) } },
});
export const and = (...filters: FilterInit[]): FilterInit => ({ kind: { case: "and", value: { filters } } });
export const or = (...filters: FilterInit[]): FilterInit => ({ kind: { case: "or", value: { filters } } });
export const not = (f: FilterInit): FilterInit => ({ kind: { case: "not", value: f } });

const open = (t: MulticastTarget) => connect(t, { mr: MulticastRegistryPattern });

/** Every identity a filter selects, through paging. */
async function enumerateAll(c: Client, filter: FilterInit | undefined, limit = 0): Promise<{ ids: string[]; pages: number; subscribed: Set<string> }> {
  const ids: string[] = [];
  const subscribed = new Set<string>();
  let cursor = "";
  let pages = 0;
  for (;;) {
    const r = await c.mr.enumerate({ filter, limit, cursor });
    pages++;
    for (const i of r.identities) {
      ids.push(i.identity);
      if (i.subscribed) subscribed.add(i.identity);
    }
    expect(r.totalCount).toBe(r.identities.length);
    if (!r.hasMore) break;
    cursor = r.nextCursor;
    if (pages > 10_000) throw new Error("paging does not end");
  }
  return { ids: ids.sort(), pages, subscribed };
}

/** A Subscribe stream read in the background. */
function subscriber(c: Client, identity: string) {
  const ac = new AbortController();
  const got: MulticastMessage[] = [];
  let error: unknown;
  const done = (async () => {
    try {
      for await (const m of c.mr.subscribe({ identity }, { signal: ac.signal, timeoutMs: 600_000 })) got.push(m);
    } catch (err) {
      error = err;
    }
  })();
  return {
    got,
    get error() {
      return error;
    },
    async close() {
      ac.abort();
      await done;
    },
  };
}

const MARKER = "marker";
const payloads = (s: { got: MulticastMessage[] }) => s.got.map((m) => text(m.payload));

/**
 * Proves no subscriber got more than `want(i)`: a marker multicast to `filter` travels each stream after anything
 * still owed; once every stream has it, each must hold exactly its `want` then the marker.
 */
async function expectNothingMore(c: Client, filter: FilterInit, subs: { got: MulticastMessage[] }[], want: (i: number) => string[]) {
  await expectAbsent("a message beyond those expected", {
    sendMarker: async () => expect((await c.mr.multicast({ filter, payload: utf8(MARKER) })).deliveredCount).toBe(subs.length),
    markerArrived: () => subs.every((s) => payloads(s).includes(MARKER)),
    happened: () =>
      subs
        .map((s, i) => (JSON.stringify(payloads(s)) === JSON.stringify([...want(i), MARKER]) ? "" : `stream ${i} got ${JSON.stringify(payloads(s))}`))
        .filter(Boolean)
        .join("; "),
    timeoutMs: 30_000,
  });
}

/** Waits until Enumerate reports every identity subscribed. */
async function untilSubscribed(c: Client, run: string, ids: string[]) {
  await eventually(
    async () => {
      const { subscribed } = await enumerateAll(c, cond("run", Operator.EQ, run));
      return ids.every((i) => subscribed.has(i));
    },
    `${ids.join(", ")} subscribed`,
    60_000,
    100,
  );
}

let runs = 0;
const newRun = () => `r${++runs}-${Math.random().toString(36).slice(2, 8)}`;

/** Identities with varied metadata for the filter checks, and independent predicates over it. */
const PEOPLE: [string, JsonObject][] = [
  ["ann", { region: "eu-west", tier: 1, score: 10.5, active: true, tags: ["a"], labels: { team: "core" } }],
  ["bob", { region: "eu-north", tier: 2, score: 3, active: false, labels: { team: "edge" } }],
  ["cid", { region: "us-east", tier: 3, score: -1, active: true }],
  ["dee", { region: "us-west", tier: 2, score: 7, active: null, labels: { team: "core", site: "sfo" } }],
  ["eve", { region: "ap-south", tier: "2", score: 0, note: "tier is a string here" }],
  ["fay", { region: "eu*west", tier: 1, score: 100 }],
  ["gus", { region: "", tier: 5 }],
  ["hal", { region: "üsé-ø", tier: 4, score: 4 }],
  ["ivy", {}],
  ["jon", { region: "eu-west", tier: 1, score: 10.5, active: true }],
];

const has = (m: JsonObject, k: string) => Object.hasOwn(m, k);
const num = (v: unknown) => typeof v === "number";

/** [description, filter, expected predicate (written apart from the pattern's evaluator)]. */
const FILTER_CASES: [string, FilterInit, (m: JsonObject) => boolean][] = [
  ["eq string", cond("region", Operator.EQ, "eu-west"), (m) => m.region === "eu-west"],
  ["eq number (1 == 1.0)", cond("tier", Operator.EQ, 2), (m) => m.tier === 2],
  ["eq boolean", cond("active", Operator.EQ, true), (m) => m.active === true],
  ["eq null", cond("active", Operator.EQ, null), (m) => m.active === null],
  ["ne (missing fields are not equal)", cond("tier", Operator.NE, 2), (m) => m.tier !== 2],
  ["in", cond("region", Operator.IN, undefined, ["us-east", "us-west", "nowhere"]), (m) => m.region === "us-east" || m.region === "us-west"],
  ["in mixed types", cond("tier", Operator.IN, undefined, [1, "2"]), (m) => m.tier === 1 || m.tier === "2"],
  ["exists", cond("score", Operator.EXISTS), (m) => has(m, "score")],
  ["exists (null counts)", cond("active", Operator.EXISTS), (m) => has(m, "active")],
  ["nested field", cond("labels.team", Operator.EQ, "core"), (m) => (m.labels as JsonObject | undefined)?.team === "core"],
  ["prefix", cond("region", Operator.PREFIX, "eu-"), (m) => typeof m.region === "string" && m.region.startsWith("eu-")],
  ["prefix empty string", cond("region", Operator.PREFIX, ""), (m) => typeof m.region === "string"],
  ["wildcard *", cond("region", Operator.WILDCARD, "*-west"), (m) => typeof m.region === "string" && m.region.endsWith("-west")],
  ["wildcard ?", cond("region", Operator.WILDCARD, "us-????"), (m) => m.region === "us-east" || m.region === "us-west"],
  ["wildcard escape", cond("region", Operator.WILDCARD, "eu\\*west"), (m) => m.region === "eu*west"],
  ["wildcard unicode ?", cond("region", Operator.WILDCARD, "?s?-?"), (m) => m.region === "üsé-ø"],
  ["lt", cond("score", Operator.LT, 4), (m) => num(m.score) && (m.score as number) < 4],
  ["lte", cond("score", Operator.LTE, 4), (m) => num(m.score) && (m.score as number) <= 4],
  ["gt", cond("tier", Operator.GT, 2), (m) => num(m.tier) && (m.tier as number) > 2],
  ["gte decimals", cond("score", Operator.GTE, 10.5), (m) => num(m.score) && (m.score as number) >= 10.5],
  [
    "and",
    and(cond("region", Operator.PREFIX, "eu"), cond("tier", Operator.EQ, 1)),
    (m) => typeof m.region === "string" && m.region.startsWith("eu") && m.tier === 1,
  ],
  ["or", or(cond("tier", Operator.EQ, 5), cond("labels.site", Operator.EXISTS)), (m) => m.tier === 5 || has((m.labels as JsonObject) ?? {}, "site")],
  ["not", not(cond("region", Operator.PREFIX, "eu")), (m) => !(typeof m.region === "string" && m.region.startsWith("eu"))],
  ["empty and = all", and(), () => true],
  ["empty or = none", or(), () => false],
  [
    "nested and/or/not",
    and(or(cond("tier", Operator.GTE, 2), cond("active", Operator.EQ, true)), not(cond("region", Operator.WILDCARD, "us-*"))),
    (m) => ((num(m.tier) && (m.tier as number) >= 2) || m.active === true) && !(typeof m.region === "string" && m.region.startsWith("us-")),
  ],
  ["list fields are not traversed", cond("tags.0", Operator.EXISTS), () => false],
];

export function runMulticastSuite(label: string, factory: () => Promise<MulticastTarget>, opts: { timeout?: number; stopsMessaging?: boolean } = {}): void {
  const timeout = opts.timeout ?? 60_000;
  describe(`multicast registry: ${label}`, () => {
    let t: MulticastTarget;
    let c: Client;
    beforeAll(async () => {
      t = await factory();
      c = open(t);
    }, 120_000);
    afterAll(async () => {
      c?.close();
      await t?.close();
    }, 60_000);

    test("capabilities name the slots filled and what they mean", async () => {
      const caps = await c.mr.getCapabilities({});
      const e = t.expect;
      expect(caps.slots!.registryBackendType).toBe(e.registry);
      expect(caps.slots!.registryInterfaces).toEqual(expect.arrayContaining(["keyvalue_basic", "keyvalue_scan"]));
      expect(caps.slots!.messagingBackendType).toBe(e.messaging);
      expect(caps.slots!.messagingInterfaces).toContain("pubsub_basic");
      expect(caps.slots!.durabilityBackendType).toBe(e.durability);
      expect(caps.supportsDurability).toBe(e.durability !== undefined);
      expect(caps.supportsFiltering).toBe(true);
      expect(caps.supportsWildcardFilters).toBe(true);
      expect(caps.filterPerformance).toBe(e.filterNative ? FilterPerformance.FILTER_NATIVE : FilterPerformance.FILTER_CLIENT_SIDE);
      expect(caps.multicastPerformance).toBe(e.durability ? MulticastPerformance.MULTICAST_QUEUED : MulticastPerformance.MULTICAST_FANOUT);
      expect(caps.slots!.schemas.map((s) => s.name)).toEqual(["registry", "messaging", "durability"]);
    });

    test(
      "register, re-register, enumerate in pages, unregister",
      async () => {
        const run = newRun();
        const ids = Array.from({ length: 23 }, (_, i) => `${run}-id-${String(i).padStart(2, "0")}`);
        for (const id of ids) {
          const r = await c.mr.register({ identity: id, metadata: { run, n: Number(id.slice(-2)) } });
          expect(r.success).toBe(true);
          expect(r.created).toBe(true);
        }
        const again = await c.mr.register({ identity: ids[0]!, metadata: { run, n: 0, again: true } });
        expect(again.created).toBe(false);
        const first = await c.mr.enumerate({ filter: cond("again", Operator.EQ, true) });
        expect(first.identities.map((i) => i.identity)).toEqual([ids[0]!]);
        expect(first.identities[0]!.metadata!.run).toBe(run);
        expect(first.identities[0]!.registeredAt).toBeGreaterThan(0n);
        expect(first.identities[0]!.expiresAt).toBeUndefined();

        const paged = await enumerateAll(c, cond("run", Operator.EQ, run), 5);
        expect(paged.ids).toEqual(ids);
        expect(paged.pages).toBeGreaterThanOrEqual(5);

        expect((await c.mr.unregister({ identity: ids[3]! })).found).toBe(true);
        expect((await c.mr.unregister({ identity: ids[3]! })).found).toBe(false);
        expect((await enumerateAll(c, cond("run", Operator.EQ, run))).ids).toEqual(ids.filter((_, i) => i !== 3));
      },
      timeout,
    );

    test(
      "filters select the same identities as independent predicates (native or client-side alike)",
      async () => {
        const run = newRun();
        for (const [name, m] of PEOPLE) await c.mr.register({ identity: `${run}-${name}`, metadata: { ...m, run } });
        const failures: string[] = [];
        for (const [what, filter, predicate] of FILTER_CASES) {
          const want = PEOPLE.filter(([, m]) => predicate(m))
            .map(([n]) => `${run}-${n}`)
            .sort();
          const got = (await enumerateAll(c, and(cond("run", Operator.EQ, run), filter))).ids;
          if (JSON.stringify(got) !== JSON.stringify(want)) failures.push(`${what}: got ${got.join(",")} want ${want.join(",")}`);
        }
        expect(failures).toEqual([]);
        // Multicast selects with the same filter evaluation.
        const mc = await c.mr.multicast({ filter: and(cond("run", Operator.EQ, run), cond("region", Operator.PREFIX, "eu-")), payload: utf8("x") });
        expect(mc.results.map((r) => r.identity).sort()).toEqual([`${run}-ann`, `${run}-bob`, `${run}-jon`]);
      },
      timeout,
    );

    test(
      "identities expire at their TTL; a heartbeat re-Register extends it",
      async () => {
        const run = newRun();
        const ttl = { seconds: 2n, nanos: 0 };
        const reg = await c.mr.register({ identity: `${run}-short`, metadata: { run }, ttl });
        expect(reg.expiresAt).toBeGreaterThan(BigInt(Date.now()));
        await c.mr.register({ identity: `${run}-beat`, metadata: { run }, ttl });
        await c.mr.register({ identity: `${run}-forever`, metadata: { run } });
        const listed = await enumerateAll(c, cond("run", Operator.EQ, run));
        expect(listed.ids).toEqual([`${run}-beat`, `${run}-forever`, `${run}-short`]);
        // Heartbeat every 500 ms until short has expired and beat has outlived its first TTL; each look comes before
        // that round's heartbeat, so beat is seen ~500 ms after its last one.
        const start = Date.now();
        await waitFor(
          async () => {
            const { ids } = await enumerateAll(c, cond("run", Operator.EQ, run));
            expect(ids).toContain(`${run}-beat`);
            await c.mr.register({ identity: `${run}-beat`, metadata: { run }, ttl });
            return !ids.includes(`${run}-short`) && Date.now() - start > 3_000;
          },
          "short expired while beat stayed",
          { timeoutMs: 30_000, intervalMs: 500 },
        );
        expect((await enumerateAll(c, cond("run", Operator.EQ, run))).ids).toEqual([`${run}-beat`, `${run}-forever`]);
        const mc = await c.mr.multicast({ filter: cond("run", Operator.EQ, run), payload: utf8("x") });
        expect(mc.results.map((r) => r.identity).sort()).toEqual([`${run}-beat`, `${run}-forever`]);
        expect(await codeOf(() => c.mr.subscribe({ identity: `${run}-short` }))).toBe(Code.NOT_FOUND);
      },
      timeout,
    );

    test(
      "multicast reaches every subscribed identity the filter selects, once",
      async () => {
        const run = newRun();
        const ids = ["a", "b", "c", "d"].map((x) => `${run}-${x}`);
        for (const [i, id] of ids.entries()) await c.mr.register({ identity: id, metadata: { run, even: i % 2 === 0 } });
        const subs = ids.map((id) => subscriber(c, id));
        try {
          await untilSubscribed(c, run, ids);
          const all = await c.mr.multicast({ filter: cond("run", Operator.EQ, run), payload: utf8("to all") });
          expect(all.targetCount).toBe(4);
          expect(all.deliveredCount).toBe(4);
          expect(all.failedCount).toBe(0);
          expect(all.results.every((r) => r.status === DeliveryStatus.DELIVERED && r.error === "")).toBe(true);
          const even = await c.mr.multicast({ filter: and(cond("run", Operator.EQ, run), cond("even", Operator.EQ, true)), payload: utf8("to even") });
          expect(even.deliveredCount).toBe(2);
          await eventually(async () => subs.reduce((n, s) => n + s.got.length, 0) >= 6, "6 deliveries received", 30_000);
          const want = (i: number) => (i % 2 === 0 ? ["to all", "to even"] : ["to all"]);
          await expectNothingMore(c, cond("run", Operator.EQ, run), subs, want);
          for (const [i, s] of subs.entries()) {
            expect(payloads(s)).toEqual([...want(i), MARKER]);
            expect(s.got[0]!.messageId).toBe(all.messageId);
            expect(s.got[0]!.timestamp).toBeGreaterThan(0n);
          }
        } finally {
          for (const s of subs) await s.close();
        }
        // Streams closed: nobody is subscribed any more.
        await eventually(async () => (await enumerateAll(c, cond("run", Operator.EQ, run))).subscribed.size === 0, "subscriptions gone", 30_000, 100);
      },
      timeout,
    );

    test(
      "an identity not subscribed is QUEUED with durability (and gets it on subscribe), else reported NOT_SUBSCRIBED",
      async () => {
        const run = newRun();
        const id = `${run}-later`;
        await c.mr.register({ identity: id, metadata: { run } });
        const r1 = await c.mr.multicast({ filter: cond("run", Operator.EQ, run), payload: utf8("first") });
        const r2 = await c.mr.multicast({ filter: cond("run", Operator.EQ, run), payload: utf8("second") });
        for (const r of [r1, r2]) {
          expect(r.targetCount).toBe(1);
          expect(r.deliveredCount).toBe(0);
          if (t.expect.durability) {
            expect(r.queuedCount).toBe(1);
            expect(r.failedCount).toBe(0);
            expect(r.results[0]!.status).toBe(DeliveryStatus.QUEUED);
          } else {
            expect(r.queuedCount).toBe(0);
            expect(r.failedCount).toBe(1);
            expect(r.results[0]!.status).toBe(DeliveryStatus.NOT_SUBSCRIBED);
            expect(r.results[0]!.error).not.toBe("");
          }
        }
        const s = subscriber(c, id);
        try {
          await untilSubscribed(c, run, [id]);
          const live = await c.mr.multicast({ filter: cond("run", Operator.EQ, run), payload: utf8("third") });
          expect(live.deliveredCount).toBe(1);
          const want = t.expect.durability ? ["first", "second", "third"] : ["third"];
          await eventually(async () => s.got.length >= want.length, `${want.length} messages`, 30_000);
          await expectNothingMore(c, cond("run", Operator.EQ, run), [s], () => want);
          expect(payloads(s)).toEqual([...want, MARKER]);
          if (t.expect.durability) expect(s.got[0]!.messageId).toBe(r1.messageId);
        } finally {
          await s.close();
        }
        if (t.expect.durability) {
          // Delivered once: a second subscription does not get the queued messages again.
          const again = subscriber(c, id);
          try {
            await untilSubscribed(c, run, [id]);
            // Queued messages drain before live ones: a redelivery would come before this live marker.
            await expectNothingMore(c, cond("run", Operator.EQ, run), [again], () => []);
            expect(payloads(again)).toEqual([MARKER]);
          } finally {
            await again.close();
          }
        }
      },
      timeout,
    );

    test(
      "bad input is INVALID_ARGUMENT; an unregistered identity cannot subscribe",
      async () => {
        expect(await codeOf(() => c.mr.register({ identity: "" }))).toBe(Code.INVALID_ARGUMENT);
        expect(await codeOf(() => c.mr.register({ identity: "x".repeat(300) }))).toBe(Code.INVALID_ARGUMENT);
        expect(await codeOf(() => c.mr.register({ identity: "ok", ttl: { seconds: -1n, nanos: 0 } }))).toBe(Code.INVALID_ARGUMENT);
        expect(await codeOf(() => c.mr.enumerate({ filter: cond("x", Operator.OPERATOR_UNSPECIFIED, 1) }))).toBe(Code.INVALID_ARGUMENT);
        expect(await codeOf(() => c.mr.enumerate({ filter: cond("", Operator.EQ, 1) }))).toBe(Code.INVALID_ARGUMENT);
        expect(await codeOf(() => c.mr.enumerate({ filter: cond("x", Operator.LT, "a") }))).toBe(Code.INVALID_ARGUMENT);
        expect(await codeOf(() => c.mr.enumerate({ filter: cond("x", Operator.EQ, { a: 1 }) }))).toBe(Code.INVALID_ARGUMENT);
        expect(await codeOf(() => c.mr.enumerate({ cursor: "not-a-cursor" }))).toBe(Code.INVALID_ARGUMENT);
        expect(await codeOf(() => c.mr.multicast({ filter: and({}), payload: utf8("x") }))).toBe(Code.INVALID_ARGUMENT);
        expect(await codeOf(() => c.mr.subscribe({ identity: `nobody-${newRun()}` }))).toBe(Code.NOT_FOUND);
      },
      timeout,
    );

    // Only targets that own their messaging backend can stop it; the others do not register this test.
    if (opts.stopsMessaging)
      test(
        "with messaging down, a multicast answers with a failure per identity",
        async () => {
          if (!t.stopMessaging) throw new Error("the target declares stopsMessaging but has no stopMessaging");
          const run = newRun();
          const ids = ["a", "b", "c"].map((x) => `${run}-${x}`);
          for (const id of ids) await c.mr.register({ identity: id, metadata: { run } });
          const subs = ids.map((id) => subscriber(c, id));
          try {
            await untilSubscribed(c, run, ids);
            await t.stopMessaging();
            const r = await c.mr.multicast({ filter: cond("run", Operator.EQ, run), payload: utf8("lost?"), timeoutMs: 20_000 });
            expect(r.targetCount).toBe(3);
            expect(r.deliveredCount).toBe(0);
            expect(r.failedCount).toBe(3);
            for (const x of r.results) {
              expect([DeliveryStatus.FAILED, DeliveryStatus.TIMEOUT]).toContain(x.status);
              expect(x.error).not.toBe("");
            }
          } finally {
            for (const s of subs) await s.close();
          }
        },
        timeout,
      );
  });
}
