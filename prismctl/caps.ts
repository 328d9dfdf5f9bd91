import { BatchPerformance, ExpirationPerformance, ScanPerformance, type Capabilities } from "../proto/gen/prism/patterns/keyvalue/keyvalue_pattern_pb";
import {
  type Capabilities as MulticastCapabilities,
  FilterPerformance,
  MulticastPerformance,
} from "../proto/gen/prism/patterns/multicast_registry/multicast_registry_pattern_pb";
import { Consistency, type SessionStoreCapabilities, Support } from "../proto/gen/prism/patterns/session/session_store_pattern_pb";
import type { QueueCapabilities } from "../client/src/queue";
import { Ordering, Support as QueueSupport } from "../proto/gen/prism/patterns/producer/producer_pattern_pb";
import { type Capabilities as CdcCapabilities, Encoding } from "../proto/gen/prism/patterns/cdc/cdc_pattern_pb";
import { InterfaceSupport } from "../proto/gen/prism/patterns/schemas/slot_schema_pb";

const SUPPORT: Record<number, string> = {
  [InterfaceSupport.NATIVE]: "native",
  [InterfaceSupport.EMULATED]: "emulated",
  [InterfaceSupport.UNAVAILABLE]: "unavailable",
};

const SCAN: Record<number, string> = {
  [ScanPerformance.SCAN_NATIVE]: "native",
  [ScanPerformance.SCAN_EMULATED]: "emulated",
  [ScanPerformance.SCAN_UNAVAILABLE]: "unavailable",
};
const BATCH: Record<number, string> = {
  [BatchPerformance.BATCH_NATIVE]: "native",
  [BatchPerformance.BATCH_PIPELINE]: "emulated (pipeline)",
  [BatchPerformance.BATCH_UNAVAILABLE]: "unavailable",
};
const EXPIRY: Record<number, string> = {
  [ExpirationPerformance.EXPIRATION_NATIVE]: "native",
  [ExpirationPerformance.EXPIRATION_EMULATED]: "emulated",
  [ExpirationPerformance.EXPIRATION_UNAVAILABLE]: "unavailable",
};
/** How a Capabilities answer provides scan, batch and expiration, in words (prismctl caps, make capabilities). */
export const scan = (p: ScanPerformance) => SCAN[p] ?? "unspecified";
export const batch = (p: BatchPerformance) => BATCH[p] ?? "unspecified";
export const expiry = (p: ExpirationPerformance) => EXPIRY[p] ?? "unspecified";

/** Bytes in the largest whole unit (4096 -> "4 KiB"). */
export function humanBytes(n: bigint): string {
  const v = Number(n);
  for (const [unit, size] of [
    ["GiB", 1 << 30],
    ["MiB", 1 << 20],
    ["KiB", 1 << 10],
  ] as const)
    if (v >= size && v % size === 0) return `${v / size} ${unit}`;
  return `${v} B`;
}

/** A namespace's GetCapabilities answer as a plain-text table: one row per operation group, then backend and limits. */
export function formatCapabilities(namespace: string, c: Capabilities): string[] {
  const rows: [string, string, string][] = [
    [
      "store / retrieve / delete / exists",
      "keyvalue_basic",
      SUPPORT[c.slots?.primary?.interfaces.find((i) => i.name === "keyvalue_basic")?.support ?? 0] ?? "native",
    ],
    ["scan", "keyvalue_scan", scan(c.scanPerformance)],
    ["store / retrieve / delete batch", "keyvalue_batch", batch(c.batchPerformance)],
    ["set / get expiration", "keyvalue_ttl", expiry(c.expirationPerformance)],
    ["transactions", "-", c.supportsTransactions ? "native" : "unavailable"],
  ];
  const header: [string, string, string] = ["OPERATION", "INTERFACE", "SUPPORT"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((x, i) => (i === cells.length - 1 ? x : x.padEnd(widths[i]!))).join("  ");
  return [
    `namespace ${namespace}: backend ${c.slots?.primaryBackendType || "?"}`,
    line(header),
    ...rows.map(line),
    `limits: key ${humanBytes(c.maxKeySize)}, value ${c.supportsChunkedValues && c.maxMessageValueSize > 0n ? `${humanBytes(c.maxMessageValueSize)} per message, ${humanBytes(c.maxValueSize)} streamed (chunked)` : humanBytes(c.maxValueSize)}, batch ${c.maxBatchSize} entries`,
  ];
}

const FILTER: Record<number, string> = {
  [FilterPerformance.FILTER_NATIVE]: "native",
  [FilterPerformance.FILTER_CLIENT_SIDE]: "emulated (evaluated by the pattern)",
};
const MULTICAST: Record<number, string> = {
  [MulticastPerformance.MULTICAST_NATIVE]: "native",
  [MulticastPerformance.MULTICAST_FANOUT]: "fan-out (one publish per target)",
  [MulticastPerformance.MULTICAST_QUEUED]: "fan-out, queued for absent subscribers",
};

/** A Multicast Registry namespace's GetCapabilities answer as a plain-text table. */
export function formatMulticastCapabilities(namespace: string, c: MulticastCapabilities): string[] {
  const s = c.slots;
  const rows: [string, string][] = [
    ["register / unregister / enumerate", "native"],
    ["filters", c.supportsFiltering ? (FILTER[c.filterPerformance] ?? "unspecified") : "unavailable"],
    ["prefix / wildcard filters", c.supportsWildcardFilters ? "native" : "unavailable"],
    ["multicast", MULTICAST[c.multicastPerformance] ?? "unspecified"],
    ["subscribe", c.supportsStreaming ? "native" : "unavailable"],
    ["durability", c.supportsDurability ? `native (${s?.durabilityBackendType ?? "?"})` : "unavailable"],
  ];
  const width = Math.max("OPERATION".length, ...rows.map((r) => r[0].length));
  return [
    `namespace ${namespace}: multicast registry, registry ${s?.registryBackendType || "?"}, messaging ${s?.messagingBackendType || "?"}`,
    `${"OPERATION".padEnd(width)}  SUPPORT`,
    ...rows.map(([op, how]) => `${op.padEnd(width)}  ${how}`),
    `limits: ${c.maxIdentities > 0 ? `${c.maxIdentities} identities` : "no identity limit"}`,
  ];
}

const SESSION_SUPPORT: Record<number, string> = {
  [Support.NATIVE]: "native",
  [Support.EMULATED]: "emulated",
  [Support.UNAVAILABLE]: "unavailable",
};
const CONSISTENCY: Record<number, string> = {
  [Consistency.STRONG_PER_SESSION]: "strong per session",
  [Consistency.READ_YOUR_WRITES_EVENTUAL_ACROSS_REGIONS]: "read-your-writes, eventual across regions",
};

/** A Session Store namespace's GetCapabilities answer as a plain-text table, then its shards and limits. */
export function formatSessionCapabilities(namespace: string, c: SessionStoreCapabilities): string[] {
  const shards = c.sharding?.shards ?? [];
  const r = c.replication;
  const rows: [string, string][] = [
    ["create / get / update / delete / list", "native"],
    ["compare-and-set (update --expect-version)", SESSION_SUPPORT[c.compareAndSet] ?? "unspecified"],
    ["sliding expiry (touch)", SESSION_SUPPORT[c.slidingExpiry] ?? "unspecified"],
    [
      "replication",
      r ? `${SESSION_SUPPORT[r.support] ?? "unspecified"}${r.backendType ? ` (${r.backendType}, region ${r.region || "?"})` : ""}` : "unavailable",
    ],
    ["consistency", CONSISTENCY[c.consistency] ?? "unspecified"],
  ];
  const width = Math.max("OPERATION".length, ...rows.map((x) => x[0].length));
  const l = c.limits;
  return [
    `namespace ${namespace}: session store, ${shards.length} shard${shards.length === 1 ? "" : "s"} (${c.sharding?.strategy || "?"})`,
    `${"OPERATION".padEnd(width)}  SUPPORT`,
    ...rows.map(([op, how]) => `${op.padEnd(width)}  ${how}`),
    ...shards.map((s) => `shard ${s.name}: ${s.backendType}, expiry ${SESSION_SUPPORT[s.expiry] ?? "unspecified"}${s.draining ? ", draining" : ""}`),
    l
      ? `limits: ${l.maxAttributes} attributes of ${humanBytes(l.maxAttributeBytes)}, ttl ${l.defaultTtlSeconds}s default / ${l.maxTtlSeconds}s max, page ${l.maxPage}`
      : "limits: ?",
  ];
}

const QUEUE_SUPPORT: Record<number, string> = {
  [QueueSupport.NATIVE]: "native",
  [QueueSupport.EMULATED]: "emulated",
  [QueueSupport.UNAVAILABLE]: "unavailable",
};
const ORDERING: Record<number, string> = {
  [Ordering.NONE]: "none",
  [Ordering.PER_KEY]: "per key",
  [Ordering.TOTAL]: "total",
};

/** A Producer/Consumer namespace's two GetCapabilities answers as one plain-text table. */
export function formatQueueCapabilities(namespace: string, { producer: p, consumer: c }: QueueCapabilities): string[] {
  const rows: [string, string][] = [
    ["publish / consume / ack / nack", `native, at least once, ordering ${ORDERING[c.ordering] ?? "unspecified"}`],
    ["publish batch", p.supportsBatch ? (QUEUE_SUPPORT[p.batch] ?? "native") : "unavailable"],
    ["idempotent publish", p.supportsIdempotence ? `${QUEUE_SUPPORT[p.idempotence] ?? "native"} (window ${p.dedupeWindowSeconds}s)` : "unavailable"],
    ["dead letters / redrive", `${QUEUE_SUPPORT[c.deadLetter] ?? "unspecified"}${c.slots?.deadLetterBackendType ? ` (${c.slots.deadLetterBackendType})` : ""}`],
    ["durable", c.durable ? "yes" : "no"],
  ];
  const width = Math.max("OPERATION".length, ...rows.map((r) => r[0].length));
  return [
    `namespace ${namespace}: producer/consumer, queue ${c.slots?.queueBackendType || p.slots?.queueBackendType || "?"}`,
    `${"OPERATION".padEnd(width)}  SUPPORT`,
    ...rows.map(([op, how]) => `${op.padEnd(width)}  ${how}`),
    `limits: message ${humanBytes(BigInt(c.maxMessageSize))}, batch ${p.maxBatchSize}, ${c.maxDeliveries} deliveries before dead letter, ack deadline ${c.ackDeadlineMs} ms, max in flight ${c.maxInFlightLimit}`,
  ];
}

/** A CDC namespace's GetCapabilities answer: slots, tables, encoding, snapshot and the WAL bound. */
export function formatCdcCapabilities(namespace: string, c: CdcCapabilities): string[] {
  const slot = (name: string) => c.bindings.find((b) => b.slot === name)?.backendType || "?";
  return [
    `namespace ${namespace}: change data capture, source ${slot("source")}, sink ${slot("sink")} (stream ${c.stream || "?"}), state ${slot("state")}`,
    `tables: ${c.tables.join(", ") || "-"}`,
    `encoding ${c.encoding === Encoding.JSON ? "json" : c.encoding === Encoding.PROTOBUF ? "protobuf" : "unspecified"}, snapshot ${c.supportsSnapshot ? "yes" : "no"}, max lag ${c.maxLagBytes > 0n ? humanBytes(c.maxLagBytes) : "unbounded"}`,
  ];
}
