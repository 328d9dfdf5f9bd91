import { type DriverFactory } from "@prism/sdk";
import { parseConfig } from "./config";
import { MemStore } from "./memstore";

/** The in-memory store as a driver any pattern can put in a slot (`driver: memstore`). */
export const memstoreDriver: DriverFactory<MemStore> = {
  name: "memstore",
  interfaces: ["keyvalue_basic", "keyvalue_ttl", "keyvalue_scan", "keyvalue_batch", "list_basic", "pubsub_basic", "stream_basic", "queue"],
  create: (config, env) => new MemStore(parseConfig(config, env), env.registry),
};
