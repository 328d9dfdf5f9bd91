/**
 * KeyValuePattern over Redis (shared server): native, and with scan forced onto the SDK's emulation (listing
 * through Redis SCAN), directly and through the proxy; plus old and new services on the same data.
 */
import { Redis } from "ioredis";
import { deletePrefix, sharedRedisAddress, uniqueNamespace } from "../redis/harness";
import { redisProxyTarget, redisTarget } from "../redis/target";
import { proxyTarget } from "../helpers/proxy_target";
import { configuredPattern } from "../helpers/process";
import { runIdempotencyRestartSuite, runIdempotencySuite } from "./keyvalue_idempotency.suite";
import { runKeyValuePatternSuite, runSameDataSuite } from "./keyvalue_pattern.suite";
import { viaClient } from "./keyvalue_ways_in";

const NATIVE = { backend: "redis", scan: "native", batch: "native", expiration: "native" } as const;
const SCAN_EMULATED = { ...NATIVE, scan: "emulated", batch: "emulated" } as const;

/** dist/redis through the proxy with an emulation policy (keys under its own namespace prefix, removed on close). */
const proxiedWith = (emulation: Record<string, string>) => async () => {
  const address = await sharedRedisAddress();
  const ns = uniqueNamespace("kvp-emu");
  return proxyTarget("redis", ns, { address, emulation }, async () => {
    const r = new Redis(address, { maxRetriesPerRequest: 1 });
    try {
      await deletePrefix(r, `${ns}:`);
    } finally {
      r.disconnect();
    }
  });
};

runKeyValuePatternSuite("redis", () => redisTarget("standalone"), NATIVE);
runKeyValuePatternSuite("proxy -> redis", redisProxyTarget, NATIVE);
runKeyValuePatternSuite("proxy -> redis", redisProxyTarget, NATIVE, viaClient);
runKeyValuePatternSuite("proxy -> redis, scan and batch emulated", proxiedWith({ scan: "force", batch: "force" }), SCAN_EMULATED);
runSameDataSuite("redis", () => redisTarget("standalone"), NATIVE);
runIdempotencySuite("redis", () => redisTarget("standalone"));
runIdempotencySuite("proxy -> redis", redisProxyTarget);
runIdempotencySuite("proxy -> redis, scan and batch emulated", proxiedWith({ scan: "force", batch: "force" }));
runIdempotencyRestartSuite("redis", async () => {
  const address = await sharedRedisAddress();
  const namespace = uniqueNamespace("kv-idem-restart");
  return {
    start: () => configuredPattern("redis", { address, namespace }),
    cleanup: async () => {
      const r = new Redis(address, { maxRetriesPerRequest: 1 });
      try {
        await deletePrefix(r, `${namespace}:`);
      } finally {
        r.disconnect();
      }
    },
  };
});
