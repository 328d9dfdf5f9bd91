import {
  keyValueBasic,
  keyValueBatch,
  keyValuePattern,
  keyValueScan,
  keyValueTTL,
  listBasic,
  pubSubBasic,
  streamBasic,
  type PatternDefinition,
} from "@prism/sdk";
import { parseConfig } from "./config";
import { MemStore } from "./memstore";

/** The in-memory pattern: every data interface of the SDK, served from one process with no backend. */
export const memstorePattern: PatternDefinition<MemStore> = {
  name: "memstore",
  version: "0.1.0",
  bindings: [keyValueBasic, keyValueTTL, keyValueScan, keyValueBatch, keyValuePattern, listBasic, pubSubBasic, streamBasic],
  create: (config, env) => new MemStore(parseConfig(config, env), env.registry),
};
