import type { PatternDefinition } from "../sdk/lifecycle/pattern";
import { pubSubBasic } from "../sdk/services/pubsub_basic";
import { streamBasic } from "../sdk/services/stream_basic";
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
