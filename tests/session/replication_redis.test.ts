import { startOwnRedis } from "../redis/harness";
import { runReplicationSuite } from "./replication.suite";

runReplicationSuite("Redis Streams", async () => {
  const own = await startOwnRedis();
  return { slot: { driver: "redis", config: { address: own.address } }, close: () => own.destroy() };
});
