import { kafkaDriver } from "../../kafka/factory";
import type { BackendModule } from "./module";

/** Kafka: a topic per queue topic, a consumer group per group, offsets committed below the lowest unfinished message. */
export const kafka: BackendModule = { factory: kafkaDriver };
