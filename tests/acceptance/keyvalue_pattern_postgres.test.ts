/**
 * KeyValuePattern over PostgreSQL (the server of scripts/services): scan and batch native, expiry emulated by the
 * driver (expires_at column); directly and through the proxy; plus old and new services on the same data.
 */
import { postgresProxyTarget, postgresTarget } from "../postgres/target";
import { runKeyValuePatternSuite, runSameDataSuite } from "./keyvalue_pattern.suite";

const POSTGRES = { backend: "postgres", scan: "native", batch: "native", expiration: "emulated" } as const;

runKeyValuePatternSuite("postgres", postgresTarget, POSTGRES);
runKeyValuePatternSuite("proxy -> postgres", postgresProxyTarget, POSTGRES);
runSameDataSuite("postgres", postgresTarget, POSTGRES);
