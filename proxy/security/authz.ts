import type { Identity } from "./authn";
import { CLASS_BIT, type OperationClass } from "./operations";

/** One rule of contract §4 `authz:`: these principals may do these classes of operation on these namespaces. */
export interface AuthzRule {
  /** `sub:…`, `claim:name=value`, `key:…`, `cert:…`, or `*` (any authenticated caller). */
  readonly principals: readonly string[];
  /** Namespace names; `*` matches any, a trailing `*` matches a prefix (`team-*`). */
  readonly namespaces: readonly string[];
  readonly allow: readonly OperationClass[];
}

interface CompiledRule {
  readonly anyPrincipal: boolean;
  readonly principals: ReadonlySet<string>;
  readonly match: (namespace: string) => boolean;
  readonly mask: number;
}

function namespaceMatcher(patterns: readonly string[]): (ns: string) => boolean {
  if (patterns.includes("*")) return () => true;
  const exact = new Set(patterns.filter((p) => !p.endsWith("*")));
  const prefixes = patterns.filter((p) => p.endsWith("*")).map((p) => p.slice(0, -1));
  return (ns) => exact.has(ns) || prefixes.some((p) => ns.startsWith(p));
}

/**
 * Decides what an identity may do on a namespace: the union of the classes of
 * every rule naming one of its principals and matching the namespace. Nothing
 * matches = nothing allowed (default deny). The answer is cached on the identity
 * per namespace, so a call costs one Map lookup and a bit test.
 */
export class Authorizer {
  private readonly rules: CompiledRule[];

  constructor(rules: readonly AuthzRule[]) {
    this.rules = rules.map((r) => ({
      anyPrincipal: r.principals.includes("*"),
      principals: new Set(r.principals),
      match: namespaceMatcher(r.namespaces),
      mask: r.allow.reduce((m, c) => m | CLASS_BIT[c], 0),
    }));
  }

  /** Bit mask of the classes `id` may use on `namespace`. */
  grants(id: Identity, namespace: string): number {
    const cached = id.grants.get(namespace);
    if (cached !== undefined) return cached;
    let mask = 0;
    for (const r of this.rules) {
      if (!r.match(namespace)) continue;
      if (r.anyPrincipal || id.principals.some((p) => r.principals.has(p))) mask |= r.mask;
    }
    // Bounded: namespaces come from a client header, so only configured ones are worth remembering.
    if (id.grants.size < 1_000) id.grants.set(namespace, mask);
    return mask;
  }

  allows(id: Identity, namespace: string, cls: OperationClass): boolean {
    return (this.grants(id, namespace) & CLASS_BIT[cls]) !== 0;
  }
}
