import { runSessionSuite, SUITE_SETTINGS } from "./suite";
import { directTarget, type ShardKind } from "./targets";

// dist/session-store run directly from its own --config, over three shards of each kind.
for (const kind of ["memstore", "redis", "postgres"] as ShardKind[]) runSessionSuite(`${kind} shards, direct`, () => directTarget(kind, SUITE_SETTINGS));
