/**
 * KeyValuePattern over PostgreSQL (the server of scripts/services): scan and batch native, expiry emulated by the
 * driver (expires_at column); directly and through the proxy; plus old and new services on the same data.
 */
import { configuredPattern } from "../helpers/process";
import { dropNamespace, postgresConfig, postgresProxyTarget, postgresTarget, uniqueNamespace } from "../postgres/target";
import { runIdempotencyRestartSuite, runIdempotencySuite } from "./keyvalue_idempotency.suite";
import { runKeyValuePatternSuite, runSameDataSuite } from "./keyvalue_pattern.suite";
import { viaClient } from "./keyvalue_ways_in";

const POSTGRES = { backend: "postgres", scan: "native", batch: "native", expiration: "emulated", tags: true } as const;

runKeyValuePatternSuite("postgres", postgresTarget, POSTGRES);
runKeyValuePatternSuite("proxy -> postgres", postgresProxyTarget, POSTGRES);
runKeyValuePatternSuite("proxy -> postgres", postgresProxyTarget, POSTGRES, viaClient);
runSameDataSuite("postgres", postgresTarget, POSTGRES);
runIdempotencySuite("postgres", postgresTarget);
runIdempotencySuite("proxy -> postgres", postgresProxyTarget);
runIdempotencyRestartSuite("postgres", async () => {
  const namespace = uniqueNamespace("kv-idem-restart");
  return {
    start: () => configuredPattern("postgres", { ...postgresConfig(), namespace }),
    cleanup: () => dropNamespace(namespace),
  };
});
