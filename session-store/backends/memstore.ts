import { memstoreDriver } from "../../memstore/factory";
import type { BackendModule } from "./module";

/** In-memory: a shard in this process (tests, one-instance setups), or a replication stream within one process. */
export const memstore: BackendModule = { factory: memstoreDriver };
