import { redisOutageTarget, redisProxyTarget, redisTarget } from "../redis/target";
import { runKeyValueSuite } from "./keyvalue.suite";
import { runListSuite } from "./list.suite";
import { runPubSubSuite } from "./pubsub.suite";

runKeyValueSuite("redis", () => redisTarget("standalone"));
runListSuite("redis", () => redisTarget("standalone"));
runPubSubSuite("redis", () => redisTarget("standalone"), { outage: redisOutageTarget });
runKeyValueSuite("redis through the proxy", redisProxyTarget);
