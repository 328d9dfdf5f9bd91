import { Code, parseYaml, PrismError, DEFAULT_NAMESPACE, NAMESPACE_HEADER } from "@prism/sdk";
import type * as grpc from "@grpc/grpc-js";
import { parseProxyConfig, type ProxyConfig } from "./config";
import type { ConfigChange } from "./proxy";

/** What the admin service needs of the proxy. */
export interface NamespaceAdminHost {
  readonly config: ProxyConfig;
  apply(next: ProxyConfig, origin: string): Promise<ConfigChange>;
  /** The namespace's /patterns entry, undefined when it is not configured. */
  status(namespace: string): unknown;
}

/** The namespace a call is about: its x-prism-namespace (the gate authorized `admin` on exactly that one). */
function namespaceOf(md: grpc.Metadata): string {
  const v = md.get(NAMESPACE_HEADER)[0];
  return typeof v === "string" && v !== "" ? v : DEFAULT_NAMESPACE;
}

/** The running configuration with the `namespaces:` list replaced, validated whole as a file would be. */
function withNamespaces(current: ProxyConfig, raw: unknown[], origin: string): ProxyConfig {
  const parsed = parseProxyConfig({ file: origin, value: { namespaces: raw }, lineOf: () => undefined }, { patternsDir: current.patternsDir });
  return { ...current, namespaces: parsed.namespaces, rawNamespaces: parsed.rawNamespaces, lineOf: parsed.lineOf };
}

function refusedIfNot(change: ConfigChange): void {
  if (!change.applied) throw new PrismError(Code.INVALID_ARGUMENT, `configuration refused; the running one stays: ${change.error}`);
}

function rawOf(current: ProxyConfig): unknown[] {
  return structuredClone([...(current.rawNamespaces ?? [])]);
}

function nameOf(entry: unknown): unknown {
  return entry !== null && typeof entry === "object" ? (entry as { name?: unknown }).name : undefined;
}

/** The handlers of prism.admin.NamespaceAdmin (served by the proxy's own server, behind the gate). */
export function namespaceAdminService(host: NamespaceAdminHost) {
  return {
    async putNamespace(req: { entry: string }, ctx: { metadata: grpc.Metadata }) {
      const ns = namespaceOf(ctx.metadata);
      const origin = `admin API PutNamespace "${ns}"`;
      let entry: unknown;
      try {
        entry = parseYaml(req.entry, "entry").value;
      } catch (err) {
        throw new PrismError(Code.INVALID_ARGUMENT, (err as Error).message);
      }
      if (entry === null || typeof entry !== "object" || Array.isArray(entry)) {
        throw new PrismError(Code.INVALID_ARGUMENT, "entry must be one namespaces: item (a map), in YAML or JSON");
      }
      const given = nameOf(entry);
      if (given !== undefined && given !== ns) {
        throw new PrismError(Code.INVALID_ARGUMENT, `entry names namespace "${String(given)}" but the call is for namespace "${ns}" (x-prism-namespace)`);
      }
      const item = { ...(entry as object), name: ns };
      const raw = rawOf(host.config);
      const at = raw.findIndex((e) => nameOf(e) === ns);
      if (at >= 0) raw[at] = item;
      else raw.push(item);
      let next: ProxyConfig;
      try {
        next = withNamespaces(host.config, raw, origin);
      } catch (err) {
        throw new PrismError(Code.INVALID_ARGUMENT, `configuration refused; the running one stays: ${(err as Error).message}`);
      }
      const change = await host.apply(next, origin);
      refusedIfNot(change);
      const action = change.added.includes(ns) ? "added" : change.changed.includes(ns) ? "changed" : "unchanged";
      return { success: true, action };
    },

    async deleteNamespace(_req: unknown, ctx: { metadata: grpc.Metadata }) {
      const ns = namespaceOf(ctx.metadata);
      const raw = rawOf(host.config);
      const at = raw.findIndex((e) => nameOf(e) === ns);
      if (at < 0) throw new PrismError(Code.NOT_FOUND, `namespace "${ns}" is not configured`);
      raw.splice(at, 1);
      const origin = `admin API DeleteNamespace "${ns}"`;
      let next: ProxyConfig;
      try {
        next = withNamespaces(host.config, raw, origin);
      } catch (err) {
        throw new PrismError(Code.INVALID_ARGUMENT, `configuration refused; the running one stays: ${(err as Error).message}`);
      }
      refusedIfNot(await host.apply(next, origin));
      return { success: true, action: "removed" };
    },

    getNamespace(_req: unknown, ctx: { metadata: grpc.Metadata }) {
      const ns = namespaceOf(ctx.metadata);
      const entry = (host.config.rawNamespaces ?? []).find((e) => nameOf(e) === ns);
      if (entry === undefined) throw new PrismError(Code.NOT_FOUND, `namespace "${ns}" is not configured`);
      return { entryJson: JSON.stringify(entry), statusJson: JSON.stringify(host.status(ns) ?? null) };
    },
  };
}
