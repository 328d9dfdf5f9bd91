import { natsOutageTarget, natsProxyTarget, natsTarget } from "../nats/target";
import { runPubSubSuite } from "./pubsub.suite";

runPubSubSuite("nats", natsTarget, { outage: natsOutageTarget });
runPubSubSuite("nats through the proxy", natsProxyTarget);
