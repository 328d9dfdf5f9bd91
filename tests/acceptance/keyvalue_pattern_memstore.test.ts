/**
 * KeyValuePattern over memstore: native (every feature), everything emulated by the SDK (emulation: force), and
 * with scan and batch refused (the UNIMPLEMENTED path); directly and through the proxy. The interface-service
 * suite also runs over the all-emulated store, so the emulations answer the old clients like the native code.
 */
import { configuredPattern } from "../helpers/process";
import { proxyTarget } from "../helpers/proxy_target";
import { runKeyValueSuite } from "./keyvalue.suite";
import { runKeyValuePatternSuite, runSameDataSuite } from "./keyvalue_pattern.suite";
import { uniquePrefix, type Target } from "./target";

const ALL_EMULATED = { emulation: { scan: "force", batch: "force", expiration: "force" } };
/** Expiry emulated, scan and batch off: both unavailable (emulated expiry cannot use the native ones). */
const REFUSING = { emulation: { scan: "off", batch: "off", expiration: "force" } };

const direct = (config: Record<string, unknown>) => async (): Promise<Target> => configuredPattern("memstore", config);
const proxied = (config: Record<string, unknown>) => (): Promise<Target> => proxyTarget("memstore", uniquePrefix("kvp").replaceAll(":", "-").slice(0, -1), config);

const NATIVE = { backend: "memstore", scan: "native", batch: "native", expiration: "native" } as const;
const EMULATED = { backend: "memstore", scan: "emulated", batch: "emulated", expiration: "emulated" } as const;
const REFUSED = { backend: "memstore", scan: "unavailable", batch: "unavailable", expiration: "emulated" } as const;

runKeyValuePatternSuite("memstore", direct({}), NATIVE);
runKeyValuePatternSuite("memstore, everything emulated", direct(ALL_EMULATED), EMULATED);
runKeyValuePatternSuite("memstore, scan and batch off", direct(REFUSING), REFUSED);
runKeyValuePatternSuite("proxy -> memstore", proxied({}), NATIVE);
runKeyValuePatternSuite("proxy -> memstore, everything emulated", proxied(ALL_EMULATED), EMULATED);
runSameDataSuite("memstore", direct({}), NATIVE);
runSameDataSuite("memstore, everything emulated", direct(ALL_EMULATED), EMULATED);
runKeyValueSuite("memstore, everything emulated", async () => ({ ...(await direct(ALL_EMULATED)()) }));
