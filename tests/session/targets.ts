/**
 * dist/session-store over each kind of shard set, run directly (its own --config) or launched by dist/proxy (the
 * slots in the namespace's config, or in its `slots:`). Memstore: three in-process shards; Redis: three redis-servers of the test's
 * own (stopped by pid); PostgreSQL: three tables of the shared server, named for the run and dropped after it.
 */
import { randomBytes } from "node:crypto";
import { SQL } from "bun";
import type { Target } from "../acceptance/target";
import { configuredPattern } from "../helpers/process";
import { proxyTarget } from "../helpers/proxy_target";
import { postgresUrl, requireService } from "../helpers/services";
import { postgresConfig } from "../postgres/target";
import { type OwnRedis, startOwnRedis } from "../redis/harness";

export interface ShardSet {
  name: string;
  /** backend_type of each shard in GetCapabilities. */
  backend: string;
  store: Record<string, unknown>[];
  /** Own redis-servers, when the set has them (the shard-failure tests stop one). */
  redis?: OwnRedis[];
  cleanup(): Promise<void>;
}

export type ShardKind = "memstore" | "redis" | "postgres";

export const run = () => randomBytes(4).toString("hex");

export async function shardSet(kind: ShardKind, n = 3): Promise<ShardSet> {
  if (kind === "memstore") {
    return { name: kind, backend: "memstore", store: Array.from({ length: n }, (_, i) => ({ driver: "memstore", name: `mem-${i}` })), cleanup: async () => {} };
  }
  if (kind === "redis") {
    const servers: OwnRedis[] = [];
    try {
      for (let i = 0; i < n; i++) servers.push(await startOwnRedis());
    } catch (err) {
      await Promise.allSettled(servers.map((s) => s.destroy()));
      throw err;
    }
    return {
      name: kind,
      backend: "redis",
      redis: servers,
      store: servers.map((s, i) => ({
        driver: "redis",
        name: `redis-${i}`,
        config: { address: s.address, command_timeout: "300ms", connect_timeout: "300ms" },
      })),
      cleanup: async () => {
        await Promise.allSettled(servers.map((s) => s.destroy()));
      },
    };
  }
  await requireService("postgres");
  const tables = Array.from({ length: n }, (_, i) => `sess_${run()}_${i}`);
  return {
    name: kind,
    backend: "postgres",
    store: tables.map((table, i) => ({ driver: "postgres", name: `pg-${i}`, config: { ...postgresConfig(), table, pool_size: 4 } })),
    cleanup: async () => {
      const sql = new SQL({ url: postgresUrl(), max: 1 });
      try {
        for (const t of tables) {
          await sql.unsafe(`drop table if exists ${t}`);
          await sql.unsafe(`drop table if exists ${t}_idempotency`);
        }
      } finally {
        await sql.close();
      }
    },
  };
}

export interface SessionTarget extends Target {
  set: ShardSet;
}

export async function directTarget(kind: ShardKind, settings: Record<string, unknown> = {}): Promise<SessionTarget> {
  const set = await shardSet(kind);
  try {
    const p = await configuredPattern("session-store", { namespace: `sess-${run()}`, slots: { store: set.store }, ...settings }, () => set.cleanup());
    return { address: p.address, set, close: p.close };
  } catch (err) {
    await set.cleanup();
    throw err;
  }
}

export async function viaProxyTarget(kind: ShardKind, settings: Record<string, unknown> = {}): Promise<SessionTarget> {
  const set = await shardSet(kind);
  try {
    const t = await proxyTarget("session-store", `sess-${run()}`, { slots: { store: set.store }, ...settings }, () => set.cleanup());
    return { ...t, set };
  } catch (err) {
    await set.cleanup();
    throw err;
  }
}

/** Behind dist/proxy with the shard list in the namespace's `slots:` (a list slot), the settings in its `config:`. */
export async function viaProxySlotsTarget(kind: ShardKind, settings: Record<string, unknown> = {}): Promise<SessionTarget> {
  const set = await shardSet(kind);
  try {
    const t = await proxyTarget("session-store", `sess-${run()}`, settings, () => set.cleanup(), { store: set.store });
    return { ...t, set };
  } catch (err) {
    await set.cleanup();
    throw err;
  }
}
