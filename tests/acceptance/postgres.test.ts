import { postgresProxyTarget, postgresTarget } from "../postgres/target";
import { runKeyValueSuite } from "./keyvalue.suite";

runKeyValueSuite("postgres", postgresTarget);
runKeyValueSuite("postgres through the proxy", postgresProxyTarget);
