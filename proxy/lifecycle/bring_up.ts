import type { JsonObject } from "@bufbuild/protobuf";
import { watchServing } from "../h2/health_watch";
import { HealthStatus, type PatternMetadata } from "../../proto/gen/prism/interfaces/lifecycle_pb";
import { ConfigError, keyName, sleep, PrismError } from "@prism/sdk";
import type { NamespaceConfig, ProxyConfig } from "../config";
import { Upstream, type UpstreamOptions } from "../h2/upstream";
import type { PatternInstance } from "../pattern_registry";
import { checkSlots } from "../slots";
import type { LifecycleChannel } from "./channel";

/** A failure that retrying cannot fix (configuration refused, slots unfillable): fatal at start-up. */
export class FatalStartError extends Error {
  override readonly name = "FatalStartError";
}

/** Refuses a namespace whose slots the pattern cannot fill; the error names file, slot key and line. */
export function assertSlots(cfg: ProxyConfig, ns: NamespaceConfig, pattern: string, metadata: PatternMetadata | undefined): void {
  const problem = checkSlots(pattern, ns.slots, metadata);
  if (!problem) return;
  const under = problem.path ?? (problem.slot ? [problem.slot] : []);
  const path = [...ns.path, "slots", ...under];
  const key = keyName(path);
  throw new FatalStartError(new ConfigError(cfg.file, key, cfg.lineOf(path), `namespace "${ns.name}": ${problem.message}`).message);
}

/** The Struct sent in InitializeRequest.config: the namespace's config, its slots, and `namespace`. */
export function initializeConfig(ns: NamespaceConfig): JsonObject {
  const config: JsonObject = { ...(ns.config as JsonObject), namespace: ns.name };
  if (ns.slots) config.slots = ns.slots as unknown as JsonObject;
  return config;
}

/**
 * Initialize → Start → first HealthCheck, then the instance serves at `endpoint`
 * (or the data_endpoint the pattern reports). Slots are checked before this
 * (launched: against the registration; remote namespaces cannot have slots).
 */
export async function bringUp(
  channel: LifecycleChannel,
  cfg: ProxyConfig,
  ns: NamespaceConfig,
  instance: PatternInstance,
  identity: { name: string; version: string },
  endpointOverride?: string,
  upstream?: UpstreamOptions,
): Promise<void> {
  const t = ns.settings.commandTimeoutMs;
  const init = await channel.initialize({ name: identity.name, version: identity.version, config: initializeConfig(ns) }, t);
  if (!init.success) {
    const key = `namespaces[${ns.path[1]}].config`;
    throw new FatalStartError(
      new ConfigError(
        cfg.file,
        key,
        cfg.lineOf([...ns.path, "config"]),
        `pattern ${instance.pattern} of namespace "${ns.name}" refused its configuration: ${init.error}`,
      ).message,
    );
  }
  if (init.metadata?.name) instance.named(init.metadata.name);
  const start = await channel.start(t);
  if (!start.success) throw new FatalStartError(`pattern ${instance.pattern} of namespace "${ns.name}" failed to start: ${start.error}`);
  const endpoint = endpointOverride ?? start.dataEndpoint;
  if (!endpoint) throw new FatalStartError(`pattern ${instance.pattern} of namespace "${ns.name}" reported no data endpoint`);
  instance.setHealth(await channel.healthCheck(t));
  const bounds = { maxStreams: ns.settings.maxStreams, streamsPerConnection: ns.settings.streamsPerConnection };
  instance.serve(new Upstream(endpoint, { ...bounds, ...upstream }), endpoint, init.metadata);
}

/**
 * HealthCheck every interval until `signal` aborts; returns a reason after three
 * failed checks in a row (the pattern is hung or gone), or at once when the
 * pattern reports it is draining or stopped (it will not serve again by itself).
 */
export async function watchHealth(channel: LifecycleChannel, ns: NamespaceConfig, instance: PatternInstance, signal: AbortSignal): Promise<string> {
  // Readiness comes pushed on the pattern's grpc.health.v1 Watch (within about a second of a backend going
  // away); the HealthCheck poll below keeps the details and catches a pattern that stops answering.
  const watching = new AbortController();
  signal.addEventListener("abort", () => watching.abort(), { once: true });
  const wake = new Wake();
  // SERVING pushed again: poll at once, so a health report taken during the outage does not keep the namespace
  // not ready for the rest of the health interval (readiness needs both to agree).
  const onStatus = (serving: boolean | undefined) => {
    instance.setWatched(serving);
    if (serving) wake.now();
  };
  if (instance.upstream) void watchServing(instance.upstream, onStatus, watching.signal);
  try {
    return await pollHealth(channel, ns, instance, signal, wake);
  } finally {
    watching.abort();
  }
}

/** Cuts the health poll's wait short (a wake during a poll in flight ends the next wait at once). */
class Wake {
  private nap: AbortController | undefined;
  private pending = false;
  now(): void {
    if (this.nap) this.nap.abort();
    else this.pending = true;
  }
  /** Waits ms, or less when woken; rejects when signal aborts. */
  async sleep(ms: number, signal: AbortSignal): Promise<void> {
    if (this.pending) {
      this.pending = false;
      if (signal.aborted) throw signal.reason;
      return;
    }
    const nap = (this.nap = new AbortController());
    try {
      await sleep(ms, AbortSignal.any([signal, nap.signal]));
    } catch (err) {
      if (signal.aborted) throw err;
    } finally {
      if (this.nap === nap) this.nap = undefined;
    }
  }
}

async function pollHealth(channel: LifecycleChannel, ns: NamespaceConfig, instance: PatternInstance, signal: AbortSignal, wake: Wake): Promise<string> {
  let failures = 0;
  while (true) {
    try {
      await wake.sleep(ns.settings.healthIntervalMs, signal);
    } catch {
      return "stopped";
    }
    try {
      const h = await channel.healthCheck(ns.settings.commandTimeoutMs);
      instance.setHealth(h);
      failures = 0;
      // Draining or stopped without the proxy asking (it sets stopping first): it will not serve again by itself.
      const state = h.details.state;
      if (!signal.aborted && (state === "draining" || state === "stopped")) return `pattern stopped serving (state ${state})`;
    } catch (err) {
      if (signal.aborted) return "stopped";
      const message = PrismError.from(err).message;
      instance.setHealth({ status: HealthStatus.UNHEALTHY, message, details: {} });
      if (++failures >= 3) return `health check failed 3 times: ${message}`;
    }
  }
}
