import type { DescService } from "@bufbuild/protobuf";
import { Health } from "../proto/gen/grpc/health/v1/health_pb";
import { NamespaceAdmin } from "../proto/gen/prism/admin/namespace_admin_pb";
import { KeyValueBasicInterface } from "../proto/gen/prism/interfaces/keyvalue/keyvalue_basic_pb";
import { KeyValueBatchInterface } from "../proto/gen/prism/interfaces/keyvalue/keyvalue_batch_pb";
import { KeyValueScanInterface } from "../proto/gen/prism/interfaces/keyvalue/keyvalue_scan_pb";
import { KeyValueTTLInterface } from "../proto/gen/prism/interfaces/keyvalue/keyvalue_ttl_pb";
import { LifecycleInterface } from "../proto/gen/prism/interfaces/lifecycle_pb";
import { ListBasicInterface } from "../proto/gen/prism/interfaces/list/list_basic_pb";
import { PubSubBasicInterface } from "../proto/gen/prism/interfaces/pubsub/pubsub_basic_pb";
import { StreamBasicInterface } from "../proto/gen/prism/interfaces/stream/stream_basic_pb";
import { CdcPattern } from "../proto/gen/prism/patterns/cdc/cdc_pattern_pb";
import { KeyValuePattern } from "../proto/gen/prism/patterns/keyvalue/keyvalue_pattern_pb";
import { MulticastRegistryPattern } from "../proto/gen/prism/patterns/multicast_registry/multicast_registry_pattern_pb";
import { SessionStorePattern } from "../proto/gen/prism/patterns/session/session_store_pattern_pb";
import { ProducerPattern } from "../proto/gen/prism/patterns/producer/producer_pattern_pb";
import { ConsumerPattern } from "../proto/gen/prism/patterns/consumer/consumer_pattern_pb";

/**
 * Every service of proto/ a client may call through the proxy: what the proxy's reflection describes
 * (local_server.test.ts keeps it complete) and whose unary methods the relay knows (h2/call_kind.ts).
 */
export const CLIENT_SERVICES: readonly DescService[] = [
  KeyValueBasicInterface,
  KeyValueTTLInterface,
  KeyValueScanInterface,
  KeyValueBatchInterface,
  ListBasicInterface,
  PubSubBasicInterface,
  StreamBasicInterface,
  KeyValuePattern,
  MulticastRegistryPattern,
  SessionStorePattern,
  CdcPattern,
  ProducerPattern,
  ConsumerPattern,
  LifecycleInterface,
  Health,
  NamespaceAdmin,
];

/**
 * Unary methods that settle what a stream of the same service delivered: with several instances of a pattern, the
 * proxy sends them, from a client connection, to the instance running that connection's latest stream of the
 * service — a Consume's in-flight places are freed only by the instance that delivered.
 */
export const FOLLOWS_STREAM: ReadonlySet<string> = new Set(["/prism.patterns.consumer.ConsumerPattern/Ack", "/prism.patterns.consumer.ConsumerPattern/Nack"]);

/** Services with a method of FOLLOWS_STREAM: where their streams run is remembered per client connection. */
export const STREAM_HOME_SERVICES: ReadonlySet<string> = new Set([...FOLLOWS_STREAM].map((p) => p.slice(1, p.lastIndexOf("/"))));
