/**
 * dist/postgres as an acceptance-suite target, on the server `make services` starts, under a namespace of its own
 * whose rows are deleted again on close. PostgreSQL has no key bound, so no capacity is declared.
 */
import { randomUUID } from "node:crypto";
import { SQL } from "bun";
import type { Target } from "../acceptance/target";
import { configuredPattern } from "../helpers/process";
import { proxyTarget } from "../helpers/proxy_target";
import { postgresUrl, requireService } from "../helpers/services";

/** The test server's connection settings as a postgres pattern config map. */
export function postgresConfig(): Record<string, unknown> {
  const u = new URL(postgresUrl());
  return {
    host: u.hostname.replace(/^\[(.*)\]$/, "$1"),
    port: Number(u.port || 5432),
    database: decodeURIComponent(u.pathname.slice(1)) || "prism",
    user: decodeURIComponent(u.username) || "prism",
    password: decodeURIComponent(u.password),
  };
}

export function uniqueNamespace(label: string): string {
  return `${label}-${randomUUID().slice(0, 8)}`;
}

/** Deletes every row of a namespace from the pattern's default table. */
export async function dropNamespace(namespace: string, table = "prism_kv"): Promise<void> {
  const sql = new SQL({ url: postgresUrl(), max: 1 });
  try {
    await sql.unsafe(`delete from ${table} where namespace = $1`, [namespace]);
  } finally {
    await sql.close();
  }
}

/** dist/postgres run directly, for one namespace. */
export async function postgresTarget(): Promise<Target> {
  await requireService("postgres");
  const namespace = uniqueNamespace("acc-pg");
  return configuredPattern("postgres", { ...postgresConfig(), namespace }, () => dropNamespace(namespace));
}

/** dist/postgres launched and reached through dist/proxy. */
export async function postgresProxyTarget(): Promise<Target> {
  await requireService("postgres");
  const namespace = uniqueNamespace("acc-pg-proxy");
  return proxyTarget("postgres", namespace, postgresConfig(), () => dropNamespace(namespace));
}
