/**
 * Safe retries of every key-value write (contract §5, issue 20 item 1): each write RPC of KeyValuePattern and of
 * the interface services is sent with an x-prism-idempotency-key, its reply is lost (reply_cutter.ts: the write
 * reached the backend, then the connection is cut), another client writes the same data, and the retry with the
 * same key must change nothing: the later write survives. A write the target cannot serve must be refused
 * (UNIMPLEMENTED) with the key too, never applied unkeyed. runIdempotencyRestartSuite: the same retry reaching a
 * restarted pattern, for backends that keep the record (Redis, PostgreSQL, NATS KV).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { randomUUID } from "node:crypto";
import { KeyValueBasicInterface } from "../../proto/gen/prism/interfaces/keyvalue/keyvalue_basic_pb";
import { KeyValueBatchInterface } from "../../proto/gen/prism/interfaces/keyvalue/keyvalue_batch_pb";
import { KeyValueTTLInterface } from "../../proto/gen/prism/interfaces/keyvalue/keyvalue_ttl_pb";
import { type Capabilities, KeyValuePattern } from "../../proto/gen/prism/patterns/keyvalue/keyvalue_pattern_pb";
import { Code, PrismError } from "../../sdk/grpc/errors";
import { replyCutter, type ReplyCutter } from "./reply_cutter";
import { codeOf, connect, eventually, text, uniquePrefix, utf8, type Target } from "./target";

const SERVICES = { kv: KeyValuePattern, basic: KeyValueBasicInterface, ttl: KeyValueTTLInterface, batch: KeyValueBatchInterface };
type Clients = ReturnType<typeof connect<typeof SERVICES>>;

const HEADER = "x-prism-idempotency-key";
const HOUR = 3600n;

/** One write to retry: how to see that it applied, what another client does meanwhile, what must hold after. */
interface Scenario {
  name: string;
  /** The feature the write needs (capabilities): an unavailable one must refuse the keyed write UNIMPLEMENTED. */
  needs?: "batch" | "expiration";
  setup?: (c: Clients, k: (n: string) => string) => Promise<unknown>;
  write: (c: Clients, k: (n: string) => string, opts: { metadata: Record<string, string> }) => Promise<unknown>;
  applied: (c: Clients, k: (n: string) => string) => Promise<boolean>;
  interfere: (c: Clients, k: (n: string) => string) => Promise<unknown>;
  check: (c: Clients, k: (n: string) => string) => Promise<void>;
}

const value = async (c: Clients, key: string) => {
  const r = await c.kv.retrieve({ key });
  return r.found ? text(r.value) : undefined;
};
const ttlOf = async (c: Clients, key: string) => Number((await c.kv.getExpiration({ key })).expirationSeconds);

/** Writes of values: the retry must leave the later value in place. */
const stores: Scenario[] = [
  {
    name: "KeyValuePattern.Store",
    write: (c, k, o) => c.kv.store({ key: k("a"), value: utf8("first") }, o),
    applied: async (c, k) => (await value(c, k("a"))) === "first",
    interfere: (c, k) => c.kv.store({ key: k("a"), value: utf8("later") }),
    check: async (c, k) => expect(await value(c, k("a"))).toBe("later"),
  },
  {
    name: "KeyValuePattern.Delete",
    setup: (c, k) => c.kv.store({ key: k("a"), value: utf8("old") }),
    write: (c, k, o) => c.kv.delete({ key: k("a") }, o),
    applied: async (c, k) => !(await c.kv.exists({ key: k("a") })).exists,
    interfere: (c, k) => c.kv.store({ key: k("a"), value: utf8("later") }),
    check: async (c, k) => expect(await value(c, k("a"))).toBe("later"),
  },
  {
    name: "KeyValuePattern.StoreBatch",
    needs: "batch",
    write: (c, k, o) =>
      c.kv.storeBatch(
        {
          requests: [
            { key: k("a"), value: utf8("first") },
            { key: k("b"), value: utf8("first") },
          ],
        },
        o,
      ),
    applied: async (c, k) => (await value(c, k("a"))) === "first" && (await value(c, k("b"))) === "first",
    interfere: (c, k) => c.kv.store({ key: k("a"), value: utf8("later") }),
    check: async (c, k) => {
      expect(await value(c, k("a"))).toBe("later");
      expect(await value(c, k("b"))).toBe("first");
    },
  },
  {
    name: "KeyValuePattern.DeleteBatch",
    needs: "batch",
    setup: async (c, k) => {
      await c.kv.store({ key: k("a"), value: utf8("old") });
      await c.kv.store({ key: k("b"), value: utf8("old") });
    },
    write: (c, k, o) => c.kv.deleteBatch({ keys: [k("a"), k("b")] }, o),
    applied: async (c, k) => (await value(c, k("a"))) === undefined && (await value(c, k("b"))) === undefined,
    interfere: (c, k) => c.kv.store({ key: k("a"), value: utf8("later") }),
    check: async (c, k) => expect(await value(c, k("a"))).toBe("later"),
  },
  {
    name: "KeyValuePattern.SetExpiration (set)",
    needs: "expiration",
    setup: (c, k) => c.kv.store({ key: k("a"), value: utf8("v") }),
    write: (c, k, o) => c.kv.setExpiration({ key: k("a"), expirationSeconds: HOUR }, o),
    applied: async (c, k) => (await ttlOf(c, k("a"))) > 0,
    interfere: (c, k) => c.kv.setExpiration({ key: k("a"), expirationSeconds: 0n }),
    check: async (c, k) => expect(await ttlOf(c, k("a"))).toBe(-1),
  },
  {
    name: "KeyValuePattern.SetExpiration (remove)",
    needs: "expiration",
    setup: (c, k) => c.kv.store({ key: k("a"), value: utf8("v"), expirationSeconds: HOUR }),
    write: (c, k, o) => c.kv.setExpiration({ key: k("a"), expirationSeconds: 0n }, o),
    applied: async (c, k) => (await ttlOf(c, k("a"))) === -1,
    interfere: (c, k) => c.kv.setExpiration({ key: k("a"), expirationSeconds: HOUR }),
    check: async (c, k) => expect(await ttlOf(c, k("a"))).toBeGreaterThan(0),
  },
  {
    name: "KeyValueBasicInterface.Set",
    write: (c, k, o) => c.basic.set({ key: k("a"), value: utf8("first") }, o),
    applied: async (c, k) => (await value(c, k("a"))) === "first",
    interfere: (c, k) => c.basic.set({ key: k("a"), value: utf8("later") }),
    check: async (c, k) => expect(await value(c, k("a"))).toBe("later"),
  },
  {
    name: "KeyValueBasicInterface.Delete",
    setup: (c, k) => c.basic.set({ key: k("a"), value: utf8("old") }),
    write: (c, k, o) => c.basic.delete({ key: k("a") }, o),
    applied: async (c, k) => !(await c.basic.exists({ key: k("a") })).exists,
    interfere: (c, k) => c.basic.set({ key: k("a"), value: utf8("later") }),
    check: async (c, k) => expect(await value(c, k("a"))).toBe("later"),
  },
  {
    name: "KeyValueBatchInterface.BatchSet",
    needs: "batch",
    write: (c, k, o) =>
      c.batch.batchSet(
        {
          requests: [
            { key: k("a"), value: utf8("first") },
            { key: k("b"), value: utf8("first") },
          ],
        },
        o,
      ),
    applied: async (c, k) => (await value(c, k("a"))) === "first" && (await value(c, k("b"))) === "first",
    interfere: (c, k) => c.basic.set({ key: k("b"), value: utf8("later") }),
    check: async (c, k) => expect(await value(c, k("b"))).toBe("later"),
  },
  {
    name: "KeyValueBatchInterface.BatchDelete",
    needs: "batch",
    setup: async (c, k) => {
      await c.basic.set({ key: k("a"), value: utf8("old") });
      await c.basic.set({ key: k("b"), value: utf8("old") });
    },
    write: (c, k, o) => c.batch.batchDelete({ keys: [k("a"), k("b")] }, o),
    applied: async (c, k) => (await value(c, k("a"))) === undefined && (await value(c, k("b"))) === undefined,
    interfere: (c, k) => c.basic.set({ key: k("b"), value: utf8("later") }),
    check: async (c, k) => expect(await value(c, k("b"))).toBe("later"),
  },
  {
    name: "KeyValueTTLInterface.Expire",
    needs: "expiration",
    setup: (c, k) => c.basic.set({ key: k("a"), value: utf8("v") }),
    write: (c, k, o) => c.ttl.expire({ key: k("a"), ttlSeconds: HOUR }, o),
    applied: async (c, k) => Number((await c.ttl.getTTL({ key: k("a") })).ttlSeconds) > 0,
    interfere: (c, k) => c.ttl.persist({ key: k("a") }),
    check: async (c, k) => expect(Number((await c.ttl.getTTL({ key: k("a") })).ttlSeconds)).toBe(-1),
  },
  {
    name: "KeyValueTTLInterface.Persist",
    needs: "expiration",
    setup: (c, k) => c.basic.set({ key: k("a"), value: utf8("v"), ttlSeconds: HOUR }),
    write: (c, k, o) => c.ttl.persist({ key: k("a") }, o),
    applied: async (c, k) => Number((await c.ttl.getTTL({ key: k("a") })).ttlSeconds) === -1,
    interfere: (c, k) => c.ttl.expire({ key: k("a"), ttlSeconds: HOUR }),
    check: async (c, k) => expect(Number((await c.ttl.getTTL({ key: k("a") })).ttlSeconds)).toBeGreaterThan(0),
  },
];

const keyed = (t: Target, id: string) => ({ metadata: { ...t.metadata, [HEADER]: id } });

function available(caps: Capabilities, needs: Scenario["needs"]): boolean {
  if (needs === "batch") return caps.supportsBatch;
  if (needs === "expiration") return caps.supportsExpiration;
  return true;
}

/** Registers the cut-connection retry test of every key-value write against the target the factory starts. */
export function runIdempotencySuite(name: string, target: () => Promise<Target>): void {
  describe(`key-value safe retries: ${name}`, () => {
    let t: Target;
    let direct: Clients;
    let caps: Capabilities;
    beforeAll(async () => {
      t = await target();
      direct = connect(t, SERVICES);
      caps = await direct.kv.getCapabilities({});
    });
    afterAll(async () => {
      direct?.close();
      await t?.close();
    });

    for (const s of stores) {
      test(`${s.name}: a retry after the reply was lost is applied once`, async () => {
        const prefix = uniquePrefix("idem");
        const k = (n: string) => prefix + n;
        const id = `retry-${randomUUID()}`;
        if (!available(caps, s.needs)) {
          expect(await codeOf(() => s.write(direct, k, keyed(t, id)))).toBe(Code.UNIMPLEMENTED);
          return;
        }
        await s.setup?.(direct, k);
        let cutter: ReplyCutter | undefined;
        let relayed: Clients | undefined;
        try {
          cutter = await replyCutter(t.address);
          relayed = connect({ ...t, address: cutter.address }, SERVICES);
          await relayed.kv.exists({ key: k("warm-up") });
          cutter.dropReplies = true;
          const first = s.write(relayed, k, keyed(t, id)).then(
            () => "replied",
            (err) => PrismError.from(err).code,
          );
          await eventually(() => s.applied(direct, k), `${s.name} reached the backend`);
          cutter.cut();
          // The client never learns the outcome: the connection is gone.
          expect(await first).not.toBe("replied");
          cutter.dropReplies = false;
          await s.interfere(direct, k);
          // The retry, on a new connection through the same path, with the same key.
          await s.write(relayed, k, keyed(t, id));
          await s.check(direct, k);
        } finally {
          relayed?.close();
          await cutter?.close();
        }
      }, 60_000);
    }

    test("a different idempotency key is a different write", async () => {
      const prefix = uniquePrefix("idem");
      await direct.kv.store({ key: `${prefix}a`, value: utf8("first") }, keyed(t, `one-${prefix}`));
      await direct.kv.store({ key: `${prefix}a`, value: utf8("later") });
      await direct.kv.store({ key: `${prefix}a`, value: utf8("second") }, keyed(t, `two-${prefix}`));
      expect(await value(direct, `${prefix}a`)).toBe("second");
    });
  });
}

/** A pattern that can be stopped and started again on the same data (same configuration). */
export interface Restartable {
  start(): Promise<Target>;
  /** Removes what the test wrote (after the last stop). */
  cleanup(): Promise<void>;
}

/** Registers the restart case: the dedupe record survives a restart of the pattern on a durable backend. */
export function runIdempotencyRestartSuite(name: string, restartable: () => Promise<Restartable>): void {
  describe(`key-value safe retries across a pattern restart: ${name}`, () => {
    test("Store, Delete, StoreBatch and SetExpiration retried after a restart are not applied again", async () => {
      const r = await restartable();
      let t: Target | undefined;
      let c: Clients | undefined;
      try {
        t = await r.start();
        c = connect(t, SERVICES);
        const prefix = uniquePrefix("idem-restart");
        const k = (n: string) => prefix + n;
        const id = (n: string) => `${n}-${randomUUID()}`;
        const ids = { store: id("store"), del: id("delete"), batch: id("batch"), expire: id("expire") };
        await c.kv.store({ key: k("gone"), value: utf8("old") });
        await c.kv.store({ key: k("ttl"), value: utf8("v") });
        const writes = (c: Clients, t: Target) => [
          () => c.kv.store({ key: k("a"), value: utf8("first") }, keyed(t, ids.store)),
          () => c.kv.delete({ key: k("gone") }, keyed(t, ids.del)),
          () => c.kv.storeBatch({ requests: [{ key: k("b"), value: utf8("first") }] }, keyed(t, ids.batch)),
          () => c.kv.setExpiration({ key: k("ttl"), expirationSeconds: HOUR }, keyed(t, ids.expire)),
        ];
        for (const w of writes(c, t)) await w();
        await c.kv.store({ key: k("a"), value: utf8("later") });
        await c.kv.store({ key: k("gone"), value: utf8("later") });
        await c.kv.store({ key: k("b"), value: utf8("later") });
        await c.kv.setExpiration({ key: k("ttl"), expirationSeconds: 0n });
        c.close();
        c = undefined;
        await t.close();
        t = undefined;

        t = await r.start();
        c = connect(t, SERVICES);
        for (const w of writes(c, t)) await w();
        expect(await value(c, k("a"))).toBe("later");
        expect(await value(c, k("gone"))).toBe("later");
        expect(await value(c, k("b"))).toBe("later");
        expect(await ttlOf(c, k("ttl"))).toBe(-1);
      } finally {
        c?.close();
        await t?.close();
        await r.cleanup();
      }
    }, 90_000);
  });
}
