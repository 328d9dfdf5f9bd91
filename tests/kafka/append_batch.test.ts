/** KafkaDriver.appendBatch against the shared broker: one call, every record stored in order, places as read back. */
import { afterAll, expect, test } from "bun:test";
import { createLogger } from "../../sdk/observability/logger";
import { kafkaBrokers, requireService } from "../helpers/services";
import { parseKafkaConfig } from "../../kafka/config";
import { KafkaDriver } from "../../kafka/driver";
import { deleteNamespaceTopics, testConfig, uniqueNamespace } from "./target";

const ns = uniqueNamespace("batch");
afterAll(() => deleteNamespaceTopics(kafkaBrokers(), ns), 30_000);

test("appendBatch stores every record once, in the order given, at the places it answers", async () => {
  await requireService("kafka");
  const { namespace: _ns, ...config } = testConfig(kafkaBrokers(), ns);
  const driver = new KafkaDriver(parseKafkaConfig({ ...config, partitions: 1 }, { configFile: "test" }), ns, createLogger({ level: "error" }));
  try {
    const records = Array.from({ length: 300 }, (_, i) => ({ payload: new TextEncoder().encode(`v${i}`), metadata: { n: String(i) }, key: `k${i % 7}` }));
    const places = await driver.appendBatch("batch", records);
    expect(places.map((p) => p.offset)).toEqual(records.map((_, i) => places[0]!.offset + i));
    const read: string[] = [];
    for await (const r of driver.read({
      stream: "batch",
      partition: 0,
      fromOffset: 0,
      fromTimestamp: 0,
      maxRecords: 300,
      follow: false,
      signal: AbortSignal.timeout(20_000),
    })) {
      read.push(`${r.offset}:${new TextDecoder().decode(r.payload)}:${r.metadata.n}`);
    }
    expect(read).toEqual(records.map((_, i) => `${places[i]!.offset}:v${i}:${i}`));
  } finally {
    await driver.close();
  }
}, 60_000);
