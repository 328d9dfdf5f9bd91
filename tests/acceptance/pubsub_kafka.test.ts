import { kafkaOutageTarget, kafkaProxyTarget, kafkaTarget } from "../kafka/target";
import { runPubSubSuite } from "./pubsub.suite";

runPubSubSuite("kafka", kafkaTarget, { durableSubscriptions: true, outage: kafkaOutageTarget });
runPubSubSuite("kafka through the proxy", kafkaProxyTarget, { durableSubscriptions: true });
