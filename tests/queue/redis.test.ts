import { redis } from "./backends";
import { runQueueSuiteFor } from "./suite";

runQueueSuiteFor(redis);
