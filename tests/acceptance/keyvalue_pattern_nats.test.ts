/**
 * KeyValuePattern over a NATS JetStream KV bucket (the shared server of scripts/services, nats-server 2.9):
 * get/put/delete native; scan (over key listing), batch (pipelined) and per-key expiry (beside the value) emulated
 * by the SDK; directly and through the proxy; plus old and new services on the same data.
 */
import { randomBytes } from "node:crypto";
import { natsUrl, requireService } from "../helpers/services";
import { deleteBucket, KV_MAX_KEY_BYTES, natsKvProxyTarget, natsKvTarget, uniqueBucket } from "../nats/kv_target";
import { natsPattern, testConfig } from "../nats/target";
import { runIdempotencyRestartSuite, runIdempotencySuite } from "./keyvalue_idempotency.suite";
import { runKeyValuePatternSuite, runSameDataSuite } from "./keyvalue_pattern.suite";
import { viaClient } from "./keyvalue_ways_in";

const NATS_KV = { backend: "nats", scan: "emulated", batch: "emulated", expiration: "emulated" } as const;

runKeyValuePatternSuite("nats kv", natsKvTarget, NATS_KV);
runKeyValuePatternSuite("proxy -> nats kv", natsKvProxyTarget, NATS_KV);
runKeyValuePatternSuite("proxy -> nats kv", natsKvProxyTarget, NATS_KV, viaClient);
runSameDataSuite("nats kv", natsKvTarget, NATS_KV);
runIdempotencySuite("nats kv", natsKvTarget);
runIdempotencySuite("proxy -> nats kv", natsKvProxyTarget);
runIdempotencyRestartSuite("nats kv", async () => {
  await requireService("nats");
  const bucket = uniqueBucket("kv_idem_restart");
  const config = { ...testConfig(natsUrl(), `kv-idem-${randomBytes(4).toString("hex")}`), kv: { bucket, storage: "memory" }, max_key_size: KV_MAX_KEY_BYTES };
  return { start: () => natsPattern(config), cleanup: () => deleteBucket(bucket) };
});
