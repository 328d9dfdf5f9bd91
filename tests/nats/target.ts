/**
 * dist/nats as an acceptance target, on a dedicated nats-server (cheap to start, configured with an 8 MB
 * max_payload, and free to stop and restart), directly or through the proxy; or on the shared server of
 * scripts/services (also 8 MB max_payload), in a namespace of its own.
 */
import { randomBytes } from "node:crypto";
import type { Target } from "../acceptance/target";
import { configuredPattern, type ConfiguredPattern } from "../helpers/process";
import { natsUrl, requireService } from "../helpers/services";
import { proxyTarget } from "../helpers/proxy_target";
import type { OutageTarget } from "../kafka/target";
import { startNatsServer } from "./server";

/** Pattern settings for tests: prompt failure detection and quick reconnects. */
export function testConfig(url: string, namespace = "acceptance"): Record<string, unknown> {
  return { namespace, url, ping_interval: "1s", reconnect_wait: "50ms", reconnect_max_wait: "500ms" };
}

/** Starts dist/nats with a config file (and extra flags); closing stops it by pid and checks it exited cleanly. */
export function natsPattern(config: Record<string, unknown>, onClose?: () => Promise<void>, args: string[] = []): Promise<Target & ConfiguredPattern> {
  return configuredPattern("nats", config, onClose, args);
}

/** dist/nats on a dedicated server. */
export async function natsTarget(): Promise<Target> {
  const server = await startNatsServer();
  return natsPattern(testConfig(server.url), () => server.close());
}

/** dist/nats on the shared server (scripts/services), in a fresh namespace so runs never see each other. */
export async function natsSharedTarget(): Promise<Target> {
  await requireService("nats");
  return natsPattern(testConfig(natsUrl(), `acc-shared-${randomBytes(4).toString("hex")}`));
}

/** dist/nats on a dedicated server, reached through dist/proxy. */
export async function natsProxyTarget(): Promise<Target> {
  const server = await startNatsServer();
  const { namespace: _ns, ...config } = testConfig(server.url);
  return proxyTarget("nats", "acc-nats", config, () => server.close());
}

/** dist/nats on a dedicated server that the test stops and restarts. */
export async function natsOutageTarget(): Promise<OutageTarget> {
  const server = await startNatsServer();
  const target = await natsPattern(testConfig(server.url), () => server.close());
  return { target, stopBackend: server.stop, startBackend: server.start };
}
