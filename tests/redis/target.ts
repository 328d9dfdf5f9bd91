import { Redis } from "ioredis";
import type { Target } from "../acceptance/target";
import { redisClusterSeeds } from "../helpers/services";
import { deletePrefix, sharedRedisAddress, startRedisPattern, uniqueNamespace } from "./harness";
import { requireService } from "../helpers/services";

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
      pattern.clients.close();
      const code = await pattern.proc.stop();
      for (const url of nodes) {
        const r = new Redis(url, { maxRetriesPerRequest: 1 });
        try {
          if ((await r.role())[0] === "master") await deletePrefix(r, `${ns}:`);
        } finally {
          r.disconnect();
        }
      }
      await pattern.stop();
      if (code !== 0) throw new Error(`redis exited with ${code}:\n${pattern.proc.output()}`);
    },
  };
}
