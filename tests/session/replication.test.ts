import { startNatsServer } from "../nats/server";
import { runReplicationSuite } from "./replication.suite";

runReplicationSuite("NATS JetStream", async () => {
  const nats = await startNatsServer();
  return { slot: { driver: "nats", config: { url: nats.url } }, close: () => nats.close() };
});
