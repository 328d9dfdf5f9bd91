/** KafkaDriver.close() against the shared broker: it ends what is open, stream Reads included. */
import { afterAll, expect, test } from "bun:test";
import { createLogger } from "../../sdk/observability/logger";
import { uniqueTopic } from "../acceptance/pubsub.suite";
import { kafkaBrokers, requireService } from "../helpers/services";
import { parseKafkaConfig } from "../../kafka/config";
import { KafkaDriver } from "../../kafka/driver";
import { deleteNamespaceTopics, testConfig, uniqueNamespace } from "./target";

const ns = uniqueNamespace("close");
afterAll(() => deleteNamespaceTopics(kafkaBrokers(), ns), 30_000);

test("close ends open follow Reads and stops their consumers, not only subscriptions", async () => {
  await requireService("kafka");
  const { namespace: _ns, ...config } = testConfig(kafkaBrokers(), ns);
  const driver = new KafkaDriver(parseKafkaConfig(config, { configFile: "test" }), ns, createLogger({ level: "error" }));
  const never = new AbortController(); // the client never goes away: only close() can end the Read
  const stream = uniqueTopic("close");
  let closed = false;
  try {
    const r = await driver.append(stream, new TextEncoder().encode("one"), {}, "k");
    const it = driver
      .read({ stream, partition: r.partition, fromOffset: 0, fromTimestamp: 0, maxRecords: 0, follow: true, signal: never.signal })
      [Symbol.asyncIterator]();
    expect((await it.next()).value?.offset).toBe(r.offset);
    const pending = it.next();
    expect((await driver.health()).details?.buffered_messages).toBe("0");
    const t0 = Date.now();
    await driver.close();
    closed = true;
    // The Read's stream ends (its consumer was stopped) rather than following forever.
    const timeout = Bun.sleep(10_000).then(() => "still following");
    expect(await Promise.race([pending.then((x) => (x.done ? "ended" : "another record")), timeout])).toBe("ended");
    expect(Date.now() - t0).toBeLessThan(10_000);
  } finally {
    never.abort();
    if (!closed) await driver.close();
  }
}, 60_000);
