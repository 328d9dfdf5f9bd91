import { type DriverFactory } from "@prism/sdk";
import { namespaceOf, parseKafkaConfig } from "./config";
import { KafkaDriver } from "./driver";

/** Kafka as a driver any pattern can put in a slot (`driver: kafka`): pub/sub, streams and queues on topics. */
export const kafkaDriver: DriverFactory<KafkaDriver> = {
  name: "kafka",
  interfaces: ["pubsub_basic", "stream_basic", "queue"],
  create: (config, env) => new KafkaDriver(parseKafkaConfig(config, env), namespaceOf(env), env.logger, env.registry),
};
