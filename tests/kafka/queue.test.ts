/** The Kafka queue driver (kafka/queue.ts) against the shared broker: the driver-level checks of tests/queue_drivers. */
import { createLogger } from "../../sdk/observability/logger";
import { parseKafkaConfig } from "../../kafka/config";
import { KafkaDriver } from "../../kafka/driver";
import { kafkaBrokers, requireService } from "../helpers/services";
import { queueDriverSuite } from "../queue_drivers/suite";
import { deleteNamespaceTopics, testConfig, uniqueNamespace } from "./target";

await requireService("kafka");

const namespace = uniqueNamespace("queue");

queueDriverSuite("kafka", {
  // Group joins and rebalances on the shared broker, with suites running beside this one.
  waitMs: 20_000,
  tokensAcrossInstances: false,
  async make() {
    const { namespace: _ns, ...config } = testConfig(kafkaBrokers(), namespace);
    return new KafkaDriver(parseKafkaConfig(config, { configFile: "test" }), namespace, createLogger({ level: "warn" }));
  },
  cleanup: () => deleteNamespaceTopics(kafkaBrokers(), namespace),
});
