import { natsDriver } from "../../nats/factory";
import type { BackendModule } from "./module";

/** NATS JetStream: a stream per topic, a durable pull consumer per group (AckWait, Nak with delay, delivery counts). */
export const nats: BackendModule = { factory: natsDriver };
