/**
 * KeyValuePattern over memstore: native (every feature), everything emulated by the SDK (emulation: force), and
 * with scan and batch refused (the UNIMPLEMENTED path); directly and through the proxy. The interface-service
 * suite also runs over the all-emulated store, so the emulations answer the old clients like the native code.
 */
import { describe, expect, test } from "bun:test";
import { KeyValuePattern } from "../../proto/gen/prism/patterns/keyvalue/keyvalue_pattern_pb";
import { scrape, sample } from "../helpers/metrics";
import { configuredPattern } from "../helpers/process";
import { freePort } from "../redis/harness";
import { proxyTarget } from "../helpers/proxy_target";
import { runKeyValueSuite } from "./keyvalue.suite";
import { runIdempotencySuite } from "./keyvalue_idempotency.suite";
import { runKeyValuePatternSuite, runSameDataSuite } from "./keyvalue_pattern.suite";
import { viaClient } from "./keyvalue_ways_in";
import { connect, uniquePrefix, utf8, type Target } from "./target";

const ALL_EMULATED = { emulation: { scan: "force", batch: "force", expiration: "force" } };
/** Expiry emulated, scan and batch off: both unavailable (emulated expiry cannot use the native ones). */
const REFUSING = { emulation: { scan: "off", batch: "off", expiration: "force" } };

/**
 * Chunk sets of large values reclaimed after 2 s untouched instead of the default 5 s, swept every 250 ms: the
 * reclaim test waits for it in each of five variants (a live writer touches its claim every 0.5 s meanwhile).
 */
const quickReclaim = (config: Record<string, unknown>) => ({
  ...config,
  emulation: { ...((config.emulation as object | undefined) ?? {}), chunk_grace: "2s", chunk_sweep_interval: "250ms" },
});
const direct = (config: Record<string, unknown>) => async (): Promise<Target> => configuredPattern("memstore", quickReclaim(config));
const proxied = (config: Record<string, unknown>) => (): Promise<Target> =>
  proxyTarget("memstore", uniquePrefix("kvp").replaceAll(":", "-").slice(0, -1), quickReclaim(config));

const NATIVE = { backend: "memstore", scan: "native", batch: "native", expiration: "native" } as const;
const EMULATED = { backend: "memstore", scan: "emulated", batch: "emulated", expiration: "emulated" } as const;
const REFUSED = { backend: "memstore", scan: "unavailable", batch: "unavailable", expiration: "emulated" } as const;

runKeyValuePatternSuite("memstore", direct({}), NATIVE);
runKeyValuePatternSuite("memstore, everything emulated", direct(ALL_EMULATED), EMULATED);
runKeyValuePatternSuite("memstore, scan and batch off", direct(REFUSING), REFUSED);
runKeyValuePatternSuite("proxy -> memstore", proxied({}), NATIVE);
runKeyValuePatternSuite("proxy -> memstore, everything emulated", proxied(ALL_EMULATED), EMULATED);
// The same assertions through @prism/client: native through the proxy, and refusals made locally from capabilities.
runKeyValuePatternSuite("proxy -> memstore", proxied({}), NATIVE, viaClient);
runKeyValuePatternSuite("memstore, scan and batch off", direct(REFUSING), REFUSED, viaClient);
runSameDataSuite("memstore", direct({}), NATIVE);
runSameDataSuite("memstore, everything emulated", direct(ALL_EMULATED), EMULATED);
runKeyValueSuite("memstore, everything emulated", async () => ({ ...(await direct(ALL_EMULATED)()) }));
// memstore keeps idempotency keys in its process only (so does it its data): no restart case.
runIdempotencySuite("memstore", direct({}));
runIdempotencySuite("memstore, everything emulated", direct(ALL_EMULATED));
runIdempotencySuite("memstore, scan and batch off", direct(REFUSING));
runIdempotencySuite("proxy -> memstore", proxied({}));

describe("emulated operations are counted", () => {
  test("prism_emulated_operations_total{namespace,operation} on /metrics, none for native operations", async () => {
    const port = await freePort();
    const p = await configuredPattern("memstore", { namespace: "counted", ...ALL_EMULATED }, undefined, ["--metrics-port", String(port)]);
    const nativePort = await freePort();
    const native = await configuredPattern("memstore", { namespace: "native" }, undefined, ["--metrics-port", String(nativePort)]);
    const c = connect({ address: p.address, close: async () => {} }, { kv: KeyValuePattern });
    const n = connect({ address: native.address, close: async () => {} }, { kv: KeyValuePattern });
    try {
      await c.kv.storeBatch({
        requests: [
          { key: "a", value: utf8("1") },
          { key: "b", value: utf8("2") },
        ],
      });
      await Array.fromAsync(c.kv.scan({ prefix: "" }));
      await c.kv.retrieve({ key: "a" });
      const m = await scrape(port);
      expect(sample(m, "prism_emulated_operations_total", { namespace: "counted", operation: "batchSet" })).toBe(1);
      expect(sample(m, "prism_emulated_operations_total", { namespace: "counted", operation: "scan" })).toBe(1);
      expect(sample(m, "prism_emulated_operations_total", { namespace: "counted", operation: "set" })).toBe(2);
      expect(sample(m, "prism_emulated_operations_total", { namespace: "counted", operation: "get" })).toBe(1);
      await n.kv.storeBatch({ requests: [{ key: "a", value: utf8("1") }] });
      await Array.fromAsync(n.kv.scan({ prefix: "" }));
      expect(await scrape(nativePort)).not.toContain("prism_emulated_operations_total{");
    } finally {
      c.close();
      n.close();
      await p.close();
      await native.close();
    }
  });
});
