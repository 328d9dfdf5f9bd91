import { describe, expect, test } from "bun:test";
import { sessionStoreFrom } from "./test_support";

const refusal = (config: Record<string, unknown>) =>
  sessionStoreFrom(config).then(
    async (s) => {
      await s.close();
      throw new Error("accepted a configuration it should refuse");
    },
    (err: Error) => err.message,
  );

describe("the store and replication slots", () => {
  test("one backend or a list of them; each list entry's driver must implement the store slot's interfaces", async () => {
    const one = await sessionStoreFrom({ slots: { store: { driver: "memstore" } } });
    expect(one.store.shardList().map((s) => s.driverName)).toEqual(["memstore"]);
    await one.close();
    expect(
      await refusal({
        slots: {
          store: [
            { driver: "memstore", name: "a" },
            { driver: "nats", name: "b" },
          ],
        },
      }),
    ).toContain('slots.store[1].driver: slot "store": driver "nats" does not implement required interface keyvalue_basic, keyvalue_ttl, keyvalue_scan');
    expect(await refusal({ region: "eu", slots: { store: { driver: "memstore" }, replication: { driver: "postgres" } } })).toContain(
      'slot "replication": driver "postgres" does not implement required interface stream_basic',
    );
    expect(await refusal({ slots: { store: { driver: "memstore" }, cache: { driver: "memstore" } } })).toContain('has no slot "cache"');
    expect(await refusal({ slots: {} })).toContain('slot "store" of pattern session-store is required');
    expect(await refusal({ slots: { store: [] } })).toContain("needs at least one backend");
    expect(await refusal({ slots: { store: [{ driver: "memstore" }, { driver: "memstore" }] } })).toContain("is used twice");
    expect(await refusal({ slots: { store: [{ driver: "memstore", name: "a", draining: true }] } })).toContain("every shard is draining");
    expect(await refusal({ slots: { store: { driver: "cassandra" } } })).toContain('driver "cassandra" is not built into pattern session-store');
    expect(await refusal({ slots: { store: { driver: "memstore" } }, default_ttl: "2h", max_ttl: "1h" })).toContain("default_ttl: must not exceed max_ttl");
    expect(await refusal({ slots: { store: { driver: "memstore" }, replication: { driver: "memstore" } } })).toContain(
      "region: must be set, different in every region, when the replication slot is filled",
    );
  });
});
