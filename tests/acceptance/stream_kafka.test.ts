import { kafkaOutageTarget, kafkaProxyTarget, kafkaTarget } from "../kafka/target";
import { runStreamSuite } from "./stream.suite";

runStreamSuite("kafka", kafkaTarget, { outage: kafkaOutageTarget });
runStreamSuite("kafka through the proxy", kafkaProxyTarget);
