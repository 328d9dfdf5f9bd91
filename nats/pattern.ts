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
  async create(config, env) {
    const cfg = parseNatsConfig(config, env);
    const driver = new NatsDriver(cfg, Subjects.fromEnv(env), env.logger.child({ driver: "nats" }), env.registry);
    // Give the first connection a moment so a pattern started next to its server serves at once; a server
    // that is down does not stop the pattern from starting (it serves UNAVAILABLE and keeps reconnecting).
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([driver.ready.catch(() => undefined), new Promise((r) => (timer = setTimeout(r, cfg.connect_timeout)))]);
    clearTimeout(timer);
    return driver;
  },
};
