import { natsOutageTarget, natsProxyTarget, natsSharedTarget, natsTarget } from "../nats/target";
import { runPubSubSuite } from "./pubsub.suite";

runPubSubSuite("nats", natsTarget, { outage: natsOutageTarget });
runPubSubSuite("nats through the proxy", natsProxyTarget);
// The shared server of scripts/services (max_payload 8MB there too, so the 1 MiB test passes on it).
runPubSubSuite("nats on the shared server", natsSharedTarget);
