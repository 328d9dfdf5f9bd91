import type { PatternDefinition } from "../sdk/lifecycle/pattern";
import { keyValueBasic } from "../sdk/services/keyvalue_basic";
import { pubSubBasic } from "../sdk/services/pubsub_basic";
import { streamBasic } from "../sdk/services/stream_basic";
import { parseNatsConfig } from "./config";
import { NATS_PATTERN_VERSION, NatsDriver } from "./driver";
import { Subjects } from "./subjects";

/**
 * The NATS pattern: PubSubBasicInterface on core NATS, StreamBasicInterface on JetStream, and with `kv.bucket`
 * configured KeyValueBasicInterface on a JetStream key-value bucket (UNIMPLEMENTED without it).
 */
export const natsPattern: PatternDefinition<NatsDriver> = {
  name: "nats",
  version: NATS_PATTERN_VERSION,
  dbSystem: "nats",
  bindings: [pubSubBasic, streamBasic, keyValueBasic],
  async create(config, env) {
    const cfg = parseNatsConfig(config, env);
    const driver = new NatsDriver(cfg, Subjects.fromEnv(env), env.logger.child({ driver: "nats" }), env.registry);
    // Give the first connection a moment so a pattern started next to its server serves at once; a server
    // that is down does not stop the pattern from starting (it serves UNAVAILABLE and keeps reconnecting).
    let timer: ReturnType<typeof setTimeout> | undefined;
    const ready = driver.kv ? driver.kv.ready() : driver.ready;
    await Promise.race([ready.catch(() => undefined), new Promise((r) => (timer = setTimeout(r, cfg.connect_timeout)))]);
    clearTimeout(timer);
    return driver;
  },
};
