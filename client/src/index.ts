/** @prism/client: the Prism client library. `connect()` a namespace, then use one object per pattern. */
export { connect, type PrismClient } from "./connect";
export { Code, codeName, PrismClientError, type Reason } from "./errors";
export type { ClientEvent, ConnectOptions, RetryOptions, TlsOptions } from "./options";
export type { CallOptions } from "./transport";
export { KeyValueClient } from "./keyvalue";
export { MulticastClient, where } from "./multicast";
export { PubSubClient } from "./pubsub";
export { type CdcCapabilities, CdcClient, type CdcStatus, type ChangeEvent } from "./cdc";
export { type OutgoingMessage, type QueueCapabilities, QueueClient, type QueueDelivery } from "./queue";
export { type Attributes, type Session, SessionClient, type SessionStoreCapabilities } from "./session";
export { StreamClient } from "./stream";
export { ListClient } from "./list";
export { HealthClient, type HealthReport } from "./health";
export { AdminClient, type PatternInfo } from "./admin";
export type { PatternModule, ModuleContext } from "./pattern";
export { countEmulated, type LabelledCounter, prometheusText } from "./metrics";
