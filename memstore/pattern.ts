import type { PatternDefinition } from "../sdk/lifecycle/pattern";
import { keyValueBasic } from "../sdk/services/keyvalue_basic";
import { MemStore } from "./store";

export const memstorePattern: PatternDefinition<MemStore> = {
  name: "memstore",
  version: "0.1.0",
  bindings: [keyValueBasic],
  create: () => new MemStore(),
};
