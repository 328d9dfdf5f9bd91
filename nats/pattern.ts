import { keyValueBasic, keyValueBatch, keyValuePattern, keyValueScan, keyValueTTL, pubSubBasic, streamBasic, type PatternDefinition } from "@prism/sdk";
import { parseNatsConfig } from "./config";
import { NATS_PATTERN_VERSION, NatsDriver } from "./driver";
import { Subjects } from "./subjects";

/**
 * The NATS pattern: PubSubBasicInterface on core NATS, StreamBasicInterface on JetStream, and with `kv.bucket`
 * configured key-value on a JetStream key-value bucket (UNIMPLEMENTED without it): get/put/delete native, scan,
 * batch and per-key expiry by the SDK's emulation layer (over key listing, pipelined, expiry beside the value),
 * served as the four interface services and KeyValuePattern.
 */
export const natsPattern: PatternDefinition<NatsDriver> = {
  name: "nats",
  version: NATS_PATTERN_VERSION,
  dbSystem: "nats",
  bindings: [pubSubBasic, streamBasic, keyValueBasic, keyValueTTL, keyValueScan, keyValueBatch, keyValuePattern],
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
