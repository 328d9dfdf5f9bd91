import { natsDriver } from "../../nats/factory";
import type { BackendModule } from "./module";

/** NATS JetStream: the replication stream between regions. */
export const nats: BackendModule = { factory: natsDriver };
