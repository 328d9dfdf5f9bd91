import { kafkaDriver } from "../../kafka/factory";
import type { BackendModule } from "./module";

/** Kafka: the replication stream between regions. */
export const kafka: BackendModule = { factory: kafkaDriver };
