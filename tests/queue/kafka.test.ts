import { kafka } from "./kafka_backend";
import { runQueueSuiteFor } from "./suite";

runQueueSuiteFor(kafka);
