import { kafkaBrokers } from "../helpers/services";
import { deleteNamespaceTopics, testConfig } from "../kafka/target";
import { runQueueSuiteFor } from "./suite";
import type { QueueBackend } from "./targets";

/** Kafka on the shared broker, with the Kafka tests' quick group timeouts; the run's topics are `<namespace>.<topic>`. */
const kafka: QueueBackend = {
  name: "kafka",
  needs: ["kafka"],
  slots: async (ns) => {
    const { namespace: _ns, ...config } = testConfig(kafkaBrokers(), ns);
    return { slots: { queue: { driver: "kafka", config } }, cleanup: () => deleteNamespaceTopics(kafkaBrokers(), ns) };
  },
};

runQueueSuiteFor(kafka);
