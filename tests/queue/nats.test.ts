import { nats } from "./backends";
import { runQueueSuiteFor } from "./suite";

runQueueSuiteFor(nats);
