import type { PatternDefinition } from "../sdk/lifecycle/pattern";
import { keyValueBasic } from "../sdk/services/keyvalue_basic";
import { keyValueBatch } from "../sdk/services/keyvalue_batch";
import { keyValuePattern } from "../sdk/services/keyvalue_pattern";
import { keyValueScan } from "../sdk/services/keyvalue_scan";
import { keyValueTTL } from "../sdk/services/keyvalue_ttl";
import { listBasic } from "../sdk/services/list_basic";
import { pubSubBasic } from "../sdk/services/pubsub_basic";
import { streamBasic } from "../sdk/services/stream_basic";
import { parseConfig } from "./config";
import { MemStore } from "./memstore";

/** The in-memory pattern: every data interface of the SDK, served from one process with no backend. */
export const memstorePattern: PatternDefinition<MemStore> = {
  name: "memstore",
  version: "0.1.0",
  bindings: [keyValueBasic, keyValueTTL, keyValueScan, keyValueBatch, keyValuePattern, listBasic, pubSubBasic, streamBasic],
  create: (config, env) => new MemStore(parseConfig(config, env), env.registry),
};
