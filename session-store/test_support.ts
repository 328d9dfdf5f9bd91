import { createLogger } from "@prism/sdk";
import { Registry } from "prom-client";
import { kafka } from "./backends/kafka";
import { memstore } from "./backends/memstore";
import { nats } from "./backends/nats";
import { postgres } from "./backends/postgres";
import { redis } from "./backends/redis";
import { sessionStorePattern } from "./pattern";
import type { SessionStoreInstance } from "./pattern_driver";

/** A Session Store built in this process from a config map (what its --config would hold), for tests. */
export async function sessionStoreFrom(config: Record<string, unknown>, namespace = "sessions"): Promise<SessionStoreInstance & { registry: Registry }> {
  const registry = new Registry();
  const def = sessionStorePattern([memstore, redis, postgres, nats, kafka]);
  const instance = await def.create(config, { logger: createLogger({ level: "error" }), namespace, configFile: "test.yaml", registry });
  return Object.assign(instance, { registry });
}

export const bytes = (s: string) => new TextEncoder().encode(s);
export const text = (b: Uint8Array | undefined) => (b ? new TextDecoder().decode(b) : undefined);
