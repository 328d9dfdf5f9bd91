import { natsDriver } from "../../nats/factory";
import type { BackendModule } from "./module";

/** NATS: messaging on core NATS, durability on JetStream. */
export const nats: BackendModule = { factory: natsDriver };
