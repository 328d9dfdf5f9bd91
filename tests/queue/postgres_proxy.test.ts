import { postgres } from "./backends";
import { runQueueSuiteFor } from "./suite";

runQueueSuiteFor(postgres, ["proxy"]);
