import { memstore } from "./backends";
import { runQueueSuiteFor } from "./suite";

runQueueSuiteFor(memstore);
