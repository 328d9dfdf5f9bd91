import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { DeliveryStatus, MulticastRegistryPattern, Operator } from "../../proto/gen/prism/patterns/multicast_registry/multicast_registry_pattern_pb";
import { connect, eventually, utf8 } from "../acceptance/target";
import { cond } from "./suite";
import { COMBOS, directTarget, type MulticastTarget } from "./targets";

// The messaging backend dies in the middle of a multicast: the call still answers, with one result per target —
// DELIVERED for what went out before, FAILED or TIMEOUT (with the error) for the rest — never a lost call.
// One target per message and one message in flight make the multicast long enough to stop NATS during it.

describe("multicast registry: messaging fails mid-multicast (redis + nats)", () => {
  let t: MulticastTarget;
  let c: ReturnType<typeof connect<{ mr: typeof MulticastRegistryPattern }>>;
  const combo = COMBOS.find((x) => x.name === "redis + nats")!;
  beforeAll(async () => {
    t = await directTarget(combo, { delivery_batch: 1, delivery_concurrency: 1 });
    c = connect(t, { mr: MulticastRegistryPattern });
  }, 60_000);
  afterAll(async () => {
    c?.close();
    await t?.close();
  }, 60_000);

  test("per-identity outcomes, counts that add up", async () => {
    const n = 800;
    const ids = Array.from({ length: n }, (_, i) => `mid-${String(i).padStart(3, "0")}`);
    for (let i = 0; i < n; i += 50) await Promise.all(ids.slice(i, i + 50).map((identity) => c.mr.register({ identity, metadata: { run: "mid" } })));
    const ac = new AbortController();
    let received = 0;
    for (const identity of ids) {
      void (async () => {
        try {
          for await (const _ of c.mr.subscribe({ identity }, { signal: ac.signal, timeoutMs: 120_000 })) received++;
        } catch {
          // ended by the abort below or by the outage
        }
      })();
    }
    try {
      await eventually(
        async () => {
          let subscribed = 0;
          let cursor = "";
          do {
            const page = await c.mr.enumerate({ limit: 1000, cursor });
            subscribed += page.identities.filter((i) => i.subscribed).length;
            cursor = page.hasMore ? page.nextCursor : "";
          } while (cursor);
          return subscribed === n;
        },
        `${n} subscribed`,
        60_000,
        200,
      );
      const call = c.mr.multicast({ filter: cond("run", Operator.EQ, "mid"), payload: utf8("x"), timeoutMs: 8_000 }, { timeoutMs: 30_000 });
      await eventually(async () => received >= 5, "the first deliveries", 20_000, 5);
      await t.stopMessaging!();
      const r = await call;
      expect(r.targetCount).toBe(n);
      expect(r.results.length).toBe(n);
      expect(r.deliveredCount + r.queuedCount + r.failedCount).toBe(n);
      expect(r.deliveredCount).toBeGreaterThanOrEqual(5);
      expect(r.failedCount).toBeGreaterThan(0);
      for (const x of r.results) {
        expect([DeliveryStatus.DELIVERED, DeliveryStatus.FAILED, DeliveryStatus.TIMEOUT]).toContain(x.status);
        if (x.status !== DeliveryStatus.DELIVERED) expect(x.error).not.toBe("");
      }
    } finally {
      ac.abort();
    }
  }, 120_000);
});
