import { redisOutageTarget, redisProxyTarget, redisTarget } from "../redis/target";
import { runStreamSuite } from "./stream.suite";

runStreamSuite("redis", () => redisTarget("standalone"), { outage: redisOutageTarget });
runStreamSuite("redis through the proxy", redisProxyTarget);
runStreamSuite("redis cluster", () => redisTarget("cluster"));
