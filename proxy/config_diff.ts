import type { NamespaceConfig, ProxyConfig } from "./config";

/** What a new configuration changes, namespace by namespace. */
export interface NamespaceDiff {
  readonly added: NamespaceConfig[];
  /** The new entries of namespaces whose entry differs (pattern, replicas, config, slots, settings, tls…). */
  readonly changed: NamespaceConfig[];
  readonly removed: string[];
  readonly unchanged: string[];
}

/** A namespace entry without where it stands in its file, so moving it in the file changes nothing. */
function essence(ns: NamespaceConfig): string {
  const { path: _path, ...rest } = ns;
  return JSON.stringify(rest);
}

export function diffNamespaces(before: readonly NamespaceConfig[], after: readonly NamespaceConfig[]): NamespaceDiff {
  const old = new Map(before.map((ns) => [ns.name, ns]));
  const added: NamespaceConfig[] = [];
  const changed: NamespaceConfig[] = [];
  const unchanged: string[] = [];
  for (const ns of after) {
    const was = old.get(ns.name);
    if (was === undefined) added.push(ns);
    else if (essence(was) !== essence(ns)) changed.push(ns);
    else unchanged.push(ns.name);
  }
  const kept = new Set(after.map((ns) => ns.name));
  const removed = before.filter((ns) => !kept.has(ns.name)).map((ns) => ns.name);
  return { added, changed, removed, unchanged };
}

/** Keys of the proxy file that only a restart applies (listeners, security, limits); the rest is `namespaces`. */
const RESTART_KEYS: readonly (keyof ProxyConfig)[] = ["listen", "adminPort", "patternsDir", "shutdownTimeoutMs", "security", "limits"];

/** Top-level keys whose value differs: a live reload refuses them (they need a restart). */
export function restartOnlyChanges(before: ProxyConfig, after: ProxyConfig): string[] {
  return RESTART_KEYS.filter((k) => JSON.stringify(before[k]) !== JSON.stringify(after[k]));
}
