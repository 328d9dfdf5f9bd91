import { redisTarget } from "../redis/target";
import { runKeyValueSuite } from "./keyvalue.suite";
import { runListSuite } from "./list.suite";

runKeyValueSuite("redis", () => redisTarget("standalone"));
runListSuite("redis", () => redisTarget("standalone"));
