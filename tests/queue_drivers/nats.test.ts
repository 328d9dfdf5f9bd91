import { connect } from "nats";
import { createLogger } from "../../sdk/observability/logger";
import { parseNatsConfig } from "../../nats/config";
import { NatsDriver } from "../../nats/driver";
import { Subjects } from "../../nats/subjects";
import { natsUrl, requireService } from "../helpers/services";
import { queueDriverSuite, RUN } from "./suite";

await requireService("nats");

const NAMESPACE = "queuedrivertest";

queueDriverSuite("nats", {
  waitMs: 10_000,
  tokensAcrossInstances: true,
  async make() {
    const d = new NatsDriver(parseNatsConfig({ url: natsUrl() }, { configFile: "test" }), new Subjects(NAMESPACE), createLogger({ level: "warn" }));
    await d.ready;
    return d;
  },
  async cleanup() {
    const nc = await connect({ servers: natsUrl() });
    try {
      const jsm = await nc.jetstreamManager();
      for await (const s of jsm.streams.list()) {
        if ((s.config.name.startsWith(`${NAMESPACE}_Q`) || s.config.name.startsWith(`${NAMESPACE}_D`)) && s.config.name.includes(RUN))
          await jsm.streams.delete(s.config.name);
      }
    } finally {
      await nc.close();
    }
  },
});
