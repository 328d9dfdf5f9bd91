/**
 * Every pattern the client speaks, one module each (client/src/<pattern>.ts). A new pattern is a module and a
 * line here; connect() probes those with GetCapabilities and exposes each under its name.
 */
import { admin } from "./admin";
import { cdc } from "./cdc";
import { health } from "./health";
import { keyValue } from "./keyvalue";
import { list } from "./list";
import { multicast } from "./multicast";
import { pubsub } from "./pubsub";
import { queue } from "./queue";
import { session } from "./session";
import { stream } from "./stream";

export const MODULES = { keyValue, multicast, session, queue, cdc, pubsub, stream, list, health, admin } as const;
