import { pubSubBasic, streamBasic, type PatternDefinition } from "@prism/sdk";
import { namespaceOf, parseKafkaConfig } from "./config";
import { KAFKA_PATTERN_VERSION, KafkaDriver } from "./driver";

/** The Kafka pattern: PubSubBasicInterface and StreamBasicInterface on a Kafka cluster. */
export const kafkaPattern: PatternDefinition<KafkaDriver> = {
  name: "kafka",
  version: KAFKA_PATTERN_VERSION,
  dbSystem: "kafka",
  bindings: [pubSubBasic, streamBasic],
  create: (config, env) => new KafkaDriver(parseKafkaConfig(config, env), namespaceOf(env), env.logger.child({ driver: "kafka" }), env.registry),
};
