import { memstoreDriver } from "../../memstore/factory";
import type { BackendModule } from "./module";

/** In-memory: registry (filters evaluated by the pattern), messaging and durability in this process. */
export const memstore: BackendModule = { factory: memstoreDriver };
