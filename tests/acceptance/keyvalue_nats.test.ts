import { natsKvProxyTarget, natsKvTarget } from "../nats/kv_target";
import { runKeyValueSuite } from "./keyvalue.suite";

// NATS KV serves get/put/delete natively; TTL, scan and batch come from the SDK's emulation layer.
runKeyValueSuite("nats kv", natsKvTarget);
runKeyValueSuite("nats kv through the proxy", natsKvProxyTarget);
