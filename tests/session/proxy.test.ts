import { runSessionSuite, SUITE_SETTINGS } from "./suite";
import { type ShardKind, viaProxyTarget } from "./targets";

// dist/session-store launched by dist/proxy for one namespace, its shards in the namespace's config.
for (const kind of ["memstore", "redis", "postgres"] as ShardKind[])
  runSessionSuite(`${kind} shards through the proxy`, () => viaProxyTarget(kind, SUITE_SETTINGS));
