import { postgres } from "./backends";
import { runQueueSuiteFor } from "./suite";

// Directly here, through the proxy in postgres_proxy.test.ts (each about a minute on a loaded machine).
runQueueSuiteFor(postgres, ["direct"]);
