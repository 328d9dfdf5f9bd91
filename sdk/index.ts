/**
 * The Pattern SDK's public surface: what a pattern (memstore, redis, kafka, nats, ...) imports.
 * Patterns, drivers and the proxy import the SDK only from here, as `@prism/sdk` (tsconfig.json paths; Bun's
 * bundler follows it); a deep import fails `make check` (biome.jsonc, noRestrictedImports). Tests may reach inside.
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
export { validateSlots } from "./lifecycle/slots";

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
  StreamAppend,
  StreamDriver,
  StreamPlace,
  StreamReadOptions,
  StreamRecordData,
  SubscribeOptions,
} from "./drivers/interfaces";
export { INTERFACE_SERVICE } from "./drivers/interfaces";
export { appendBatch } from "./drivers/stream_batch";
export {
  isQueueDriver,
  offersQueueDeadLetters,
  QUEUE_METHODS,
  type QueueConsumeOptions,
  type QueueDeadLetter,
  type QueueDeadLetterDriver,
  type QueueDeadLetterPage,
  type QueueDelivery,
  type QueueDriver,
  type QueueFeatures,
  type QueueOrdering,
  type QueuePublished,
  type QueuePublishMessage,
  type QueueStats,
  type QueueSupport,
  REDRIVE_GROUP_HEADER,
} from "./drivers/queue";
export { type DeadLetterStore, EmulatedDeadLetters, isDeadLetterStore, isForOtherGroup } from "./drivers/queue_emulation";
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
export { keyName, type Origin, parseBytes, parseDuration, type Schema, validate } from "./config/schema";
export { createLogger, type Level, type Logger, type LoggerOptions } from "./observability/logger";

// Concurrency primitives (RFC-025).
export * from "./concurrency";

// Key-value pattern service and what drivers build on: versions, safe retries, buffers, resilience settings.
export { keyValuePattern } from "./services/keyvalue_pattern";
export { type KeyValueVersionedDriver, type VersionedValue, versionMatches, versionMismatch } from "./drivers/versions";
export { IdempotencyWindow, type WriteOptions } from "./drivers/idempotency";
export { asBuffer } from "./drivers/buffer";
export { BREAKER_CONFIG, RETRY_CONFIG } from "./drivers/resilience";

// Configuration: secrets and flags.
export { isSecretRef, readSecret, redact, registerSecret } from "./config/secrets";
export { flagBool, flagOneOf, flagPort, readFlags } from "./config/flags";

// gRPC serving and calling (the proxy's own servers, its lifecycle client, a pattern's standalone listener).
export { HealthService, Serving } from "./grpc/health";
export { addReflection } from "./grpc/reflection";
export { addService } from "./grpc/server";
export { bindServer, serverOptions, stopServer } from "./grpc/server_factory";
export { guardH2Server } from "./grpc/h2_guard";
export { answerNonGrpcRequest, isGrpcRequest } from "./grpc/h2_guard_non_grpc";
export { stopWatchingRequestBody, watchRequestBody } from "./grpc/request_body_timeout";
export { DEFAULT_NAMESPACE, NAMESPACE_HEADER } from "./grpc/context";
export type { ServiceImpl } from "./grpc/types";
export { type ClientHandle, createClient } from "./grpc/client";

// Observability and process life.
export { type HttpSecurity, startHttpServer } from "./observability/http_server";
export { followsUnsampledParent, isUnsampledTraceparent, remoteParent, RpcNames, setTraceHeaders, Tracing } from "./observability/tracing";
export { RootSampling } from "./observability/root_sampling";
export { RpcSpans } from "./observability/rpc_spans";
export { Metrics } from "./observability/metrics";
export { LATENCY_BUCKETS } from "./observability/tally";
export { MethodStats } from "./observability/method_stats";
export { LAUNCH_TOKEN_FD, LAUNCH_TOKEN_FD_ENV, LAUNCH_TOKEN_HEADER } from "./lifecycle/control_plane_client";
export { EXIT_ERROR, shutdownController } from "./lifecycle/shutdown";
