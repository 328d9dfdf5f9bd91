import { Redis } from "ioredis";
import type { Target } from "../acceptance/target";
import { redisClusterSeeds } from "../helpers/services";
import type { OutageTarget } from "../acceptance/pubsub.suite";
import { requireService } from "../helpers/services";
import { proxyTarget } from "../helpers/proxy_target";
import { deletePrefix, sharedRedisAddress, startOwnRedis, startRedisPattern, uniqueNamespace } from "./harness";

/**
 * dist/redis as an acceptance-suite target, on the shared Redis (or the shared three-node cluster) under a
 * namespace of its own, whose keys are removed again on close. Redis has no key bound, so no capacity is declared.
 */
export async function redisTarget(mode: "standalone" | "cluster"): Promise<Target> {
  const ns = uniqueNamespace(`acc-${mode}`);
  let nodes: string[];
  let config: Record<string, unknown>;
  if (mode === "cluster") {
    await requireService("redis-cluster");
    nodes = redisClusterSeeds().map((s) => `redis://${s}`);
    config = { cluster: redisClusterSeeds(), namespace: ns };
  } else {
    const address = await sharedRedisAddress();
    nodes = [address];
    config = { address, namespace: ns };
  }
  const pattern = await startRedisPattern(config);
  return {
    address: pattern.address,
    close: async () => {
      const code = await pattern.proc.stop();
      try {
        for (const url of nodes) {
          const r = new Redis(url, { maxRetriesPerRequest: 1 });
          try {
            if ((await r.role())[0] === "master") await deletePrefix(r, `${ns}:`);
          } finally {
            r.disconnect();
          }
        }
      } finally {
        await pattern.stop();
      }
      if (code !== 0) throw new Error(`redis exited with ${code}:\n${pattern.proc.output()}`);
    },
  };
}

/** Settings that notice an outage and recover from it quickly. */
export const FAST_RECOVERY = {
  command_timeout: "500ms",
  connect_timeout: "500ms",
  reconnect_max_delay: "200ms",
  breaker: { failure_threshold: 3, open_duration: "500ms" },
};

/** dist/redis on a redis-server of its own, which the test stops (SIGKILL) and restarts by pid. */
export async function redisOutageTarget(): Promise<OutageTarget> {
  const own = await startOwnRedis();
  const pattern = await startRedisPattern({ address: own.address, namespace: uniqueNamespace("acc-outage"), ...FAST_RECOVERY });
  return {
    target: {
      address: pattern.address,
      close: async () => {
        const code = await pattern.proc.stop();
        try {
          await pattern.stop();
        } finally {
          await own.destroy();
        }
        if (code !== 0) throw new Error(`redis exited with ${code}:\n${pattern.proc.output()}`);
      },
    },
    stopBackend: () => own.stop("SIGKILL"),
    startBackend: () => own.restart(),
  };
}

/** dist/redis on the shared Redis, launched and reached through dist/proxy (namespace = key prefix). */
export async function redisProxyTarget(): Promise<Target> {
  const address = await sharedRedisAddress();
  const ns = uniqueNamespace("acc-proxy");
  return proxyTarget("redis", ns, { address }, async () => {
    const r = new Redis(address, { maxRetriesPerRequest: 1 });
    try {
      await deletePrefix(r, `${ns}:`);
    } finally {
      r.disconnect();
    }
  });
}
