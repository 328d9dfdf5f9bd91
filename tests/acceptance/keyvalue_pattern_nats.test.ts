/**
 * KeyValuePattern over a NATS JetStream KV bucket (the shared server of scripts/services, nats-server 2.9):
 * get/put/delete native; scan (over key listing), batch (pipelined) and per-key expiry (beside the value) emulated
 * by the SDK; directly and through the proxy; plus old and new services on the same data.
 */
import { natsKvProxyTarget, natsKvTarget } from "../nats/kv_target";
import { runKeyValuePatternSuite, runSameDataSuite } from "./keyvalue_pattern.suite";

const NATS_KV = { backend: "nats", scan: "emulated", batch: "emulated", expiration: "emulated" } as const;

runKeyValuePatternSuite("nats kv", natsKvTarget, NATS_KV);
runKeyValuePatternSuite("proxy -> nats kv", natsKvProxyTarget, NATS_KV);
runSameDataSuite("nats kv", natsKvTarget, NATS_KV);
