import { kafkaDriver } from "../../kafka/factory";
import type { BackendModule } from "./module";

/** Kafka: messaging and durability on topics. */
export const kafka: BackendModule = { factory: kafkaDriver };
