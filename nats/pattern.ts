import type { PatternDefinition } from "../sdk/lifecycle/pattern";
import { pubSubBasic } from "../sdk/services/pubsub_basic";
import { streamBasic } from "../sdk/services/stream_basic";
import { parseNatsConfig } from "./config";
import { NATS_PATTERN_VERSION, NatsDriver } from "./driver";
import { Subjects } from "./subjects";

/** The NATS pattern: PubSubBasicInterface on core NATS, StreamBasicInterface on JetStream. */
export const natsPattern: PatternDefinition<NatsDriver> = {
  name: "nats",
  version: NATS_PATTERN_VERSION,
  dbSystem: "nats",
  bindings: [pubSubBasic, streamBasic],
  create: (config, env) => new NatsDriver(parseNatsConfig(config, env), Subjects.fromEnv(env), env.logger.child({ driver: "nats" })),
};
