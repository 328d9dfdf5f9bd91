import { keyValueBasic, type PatternDefinition } from "@prism/sdk";
import { MapDriver } from "./driver";

/** The example pattern: KeyValueBasicInterface served by the SDK over MapDriver. */
export const examplePattern: PatternDefinition<MapDriver> = {
  name: "example",
  version: "0.1.0",
  bindings: [keyValueBasic],
  create: () => new MapDriver(),
};
