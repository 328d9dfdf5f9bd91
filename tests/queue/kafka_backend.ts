import { kafkaBrokers } from "../helpers/services";
import { deleteNamespaceTopics, testConfig } from "../kafka/target";
import type { QueueBackend } from "./targets";

/**
 * Kafka on the shared broker, with the Kafka tests' quick group timeouts; the run's topics are `<namespace>.<topic>`.
 * Kafka keeps no dead letters: the pattern emulates them in the dead_letter slot (memstore here, so the poison
 * message test runs; a deployment puts a durable key-value backend there). Apart from BACKENDS: a suite that
 * imports this module runs in the serial Kafka unit of scripts/test_parallel.ts (group rebalances on the shared broker).
 */
export const kafka: QueueBackend = {
  name: "kafka",
  needs: ["kafka"],
  slots: async (ns) => {
    const { namespace: _ns, ...config } = testConfig(kafkaBrokers(), ns);
    return { slots: { queue: { driver: "kafka", config }, dead_letter: { driver: "memstore" } }, cleanup: () => deleteNamespaceTopics(kafkaBrokers(), ns) };
  },
};
