import { type DriverFactory } from "@prism/sdk";
import { parseNatsConfig } from "./config";
import { NatsDriver } from "./driver";
import { Subjects } from "./subjects";

/** NATS as a driver any pattern can put in a slot (`driver: nats`): pub/sub on core NATS, streams and queues on JetStream. */
export const natsDriver: DriverFactory<NatsDriver> = {
  name: "nats",
  interfaces: ["pubsub_basic", "stream_basic", "queue"],
  async create(config, env) {
    const cfg = parseNatsConfig(config, env);
    const driver = new NatsDriver(cfg, Subjects.fromEnv(env), env.logger, env.registry);
    // A server that is down does not stop the driver from being created (it reconnects); a moment's wait
    // lets one started next to its server serve at once.
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([driver.ready.catch(() => undefined), new Promise((r) => (timer = setTimeout(r, cfg.connect_timeout)))]);
    clearTimeout(timer);
    return driver;
  },
};
