/**
 * The Pattern SDK's public surface: what a pattern (memstore, redis, kafka, nats, ...) imports.
 * Deep imports (sdk/drivers/interfaces, sdk/grpc/errors, ...) keep working; new code imports from here.
 * Concurrency primitives have their own entry, sdk/concurrency (re-exported below).
 */

// Errors and status codes (transport-neutral; sdk/grpc/errors.ts maps them to gRPC status).
export {
  Code,
  codeName,
  invalidArgument,
  notFound,
  PrismError,
  resourceExhausted,
  unavailable,
  unimplemented,
} from "./errors";

// Running a pattern.
export { type RunningPattern, serve } from "./serve";
export type { PatternDefinition } from "./lifecycle/pattern";
export type { FilledSlot, FilledSlots, SlotDeclaration } from "./lifecycle/slots";

// Driver contracts the services call (one interface per proto service) and driver plumbing.
export type {
  BatchSetEntry,
  Driver,
  HealthReport,
  GlobToken,
  HealthState,
  InterfaceName,
  JsonFilter,
  JsonFilterOp,
  JsonFilterScanDriver,
  JsonFilterScanOptions,
  JsonFilterScanPage,
  JsonScalar,
  KeyListingDriver,
  KeyValueBasicDriver,
  KeyValueBatchDriver,
  KeyValueScanDriver,
  KeyValueTTLDriver,
  ListDriver,
  MaybePromise,
  PubSubDriver,
  PubSubMessage,
  ScanEntry,
  ScanOptions,
  StreamDriver,
  StreamReadOptions,
  StreamRecordData,
  SubscribeOptions,
} from "./drivers/interfaces";
export { globMatch, matchesJsonFilter, nestJsonFilter, offersJsonFilterScan, parseGlob } from "./drivers/json_filter";
export { type DriverEnv, type DriverFactory, DriverRegistry } from "./drivers/registry";
export { DriverMetrics, type InstrumentOptions, instrumentDriver } from "./drivers/instrument";
export { Resilience, type ResilienceOptions } from "./drivers/resilience";
export { exportFlowMetrics, type FlowExport, type FlowSource, METRIC_TOPICS, TopicDrops } from "./drivers/flow_metrics";

// Service bindings a pattern lists in its definition.
export { type DriverRef, DriverSlot, defineBinding, type ServiceBinding } from "./services/binding";
export { keyValueBasic } from "./services/keyvalue_basic";
export { keyValueBatch } from "./services/keyvalue_batch";
export { keyValueScan } from "./services/keyvalue_scan";
export { keyValueTTL } from "./services/keyvalue_ttl";
export { listBasic } from "./services/list_basic";
export { pubSubBasic } from "./services/pubsub_basic";
export { streamBasic } from "./services/stream_basic";
export { checkBatch, checkKey, checkValue, DEFAULT_LIMITS, type Limits } from "./services/limits";

// Configuration and logging.
export { ConfigError, loadYamlFile, parseYaml, type YamlSource } from "./config/yaml";
export { type Origin, parseBytes, parseDuration, type Schema, validate } from "./config/schema";
export { createLogger, type Level, type Logger, type LoggerOptions } from "./observability/logger";

// Concurrency primitives (RFC-025).
export * from "./concurrency";
