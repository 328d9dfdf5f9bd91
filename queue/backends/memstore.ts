import { memstoreDriver } from "../../memstore/factory";
import type { BackendModule } from "./module";

/** In-process queues (nothing survives the process), native dead letters and per-key order; for tests and `make run`. */
export const memstore: BackendModule = { factory: memstoreDriver };
