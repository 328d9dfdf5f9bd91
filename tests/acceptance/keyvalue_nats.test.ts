import { natsKvProxyTarget, natsKvTarget } from "../nats/kv_target";
import { runKeyValueSuite } from "./keyvalue.suite";

// NATS KV serves get/put/delete natively; TTL, scan and batch are UNIMPLEMENTED here (the suite checks that).
runKeyValueSuite("nats kv", natsKvTarget);
runKeyValueSuite("nats kv through the proxy", natsKvProxyTarget);
