import { natsOutageTarget, natsProxyTarget, natsTarget } from "../nats/target";
import { runStreamSuite } from "./stream.suite";

runStreamSuite("nats", natsTarget, { outage: natsOutageTarget });
runStreamSuite("nats through the proxy", natsProxyTarget);
