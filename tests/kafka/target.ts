/**
 * dist/kafka as an acceptance target: against the shared broker (scripts/services), directly or through the
 * proxy, or against a dedicated broker a test can stop and restart.
 */
import { randomBytes } from "node:crypto";
import { Kafka, logLevel } from "kafkajs";
import type { Target } from "../acceptance/target";
import { configuredPattern, type ConfiguredPattern } from "../helpers/process";
import { kafkaBrokers, requireService } from "../helpers/services";
import { startKafkaBroker } from "./broker";
import { proxyTarget } from "../helpers/proxy_target";

/** Pattern settings for tests: quick group joins and prompt failure detection. */
export function testConfig(brokers: string[], namespace: string): Record<string, unknown> {
  return {
    namespace,
    brokers,
    partitions: 3,
    consumer: { session_timeout: "6s", heartbeat_interval: "200ms", rebalance_timeout: "6s", max_wait: "100ms" },
  };
}

/** A namespace of its own per target, so runs never see each other's topics on the shared broker. */
export function uniqueNamespace(label: string): string {
  return `acc-${label}-${randomBytes(4).toString("hex")}`;
}

/** Deletes the topics of a namespace (tidying the shared broker after a suite). */
export async function deleteNamespaceTopics(brokers: string[], namespace: string): Promise<void> {
  const kafka = new Kafka({
    brokers,
    clientId: "prism-test-cleanup",
    logLevel: logLevel.NOTHING,
    connectionTimeout: 1000,
    requestTimeout: 10_000,
    retry: { retries: 1 },
  });
  const admin = kafka.admin();
  try {
    await admin.connect();
    const topics = (await admin.listTopics()).filter((t) => t.startsWith(`${namespace}.`));
    if (topics.length > 0) await admin.deleteTopics({ topics, timeout: 10_000 });
  } catch {
    // best effort: a leftover topic costs disk, not correctness
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}

/** Starts dist/kafka with a config file (and extra flags); closing stops it by pid and checks it exited cleanly. */
export function kafkaPattern(config: Record<string, unknown>, onClose?: () => Promise<void>, args: string[] = []): Promise<Target & ConfiguredPattern> {
  return configuredPattern("kafka", config, onClose, args);
}

/** dist/kafka on the shared broker. */
export async function kafkaTarget(): Promise<Target> {
  await requireService("kafka");
  const brokers = kafkaBrokers();
  const ns = uniqueNamespace("direct");
  return kafkaPattern(testConfig(brokers, ns), () => deleteNamespaceTopics(brokers, ns));
}

/** dist/kafka on the shared broker, reached through dist/proxy. */
export async function kafkaProxyTarget(): Promise<Target> {
  await requireService("kafka");
  const brokers = kafkaBrokers();
  const ns = uniqueNamespace("proxy");
  const { namespace: _ns, ...config } = testConfig(brokers, ns);
  return proxyTarget("kafka", ns, config, () => deleteNamespaceTopics(brokers, ns));
}

/** A target whose backend a test can take away and bring back. */
export interface OutageTarget {
  target: Target;
  stopBackend(): Promise<void>;
  startBackend(): Promise<void>;
}

/** dist/kafka on a dedicated broker (started here, stopped on close). */
export async function kafkaOutageTarget(): Promise<OutageTarget> {
  const broker = await startKafkaBroker();
  try {
    const target = await kafkaPattern(testConfig(broker.brokers, "outage"), () => broker.close());
    return { target, stopBackend: broker.stop, startBackend: broker.start };
  } catch (err) {
    await broker.close();
    throw err;
  }
}
