import type { DescService } from "@bufbuild/protobuf";
import { Health } from "../../proto/gen/grpc/health/v1/health_pb";
import { ServerReflection } from "../../proto/gen/grpc/reflection/v1/reflection_pb";
import { KeyValueBasicInterface } from "../../proto/gen/prism/interfaces/keyvalue/keyvalue_basic_pb";
import { KeyValueBatchInterface } from "../../proto/gen/prism/interfaces/keyvalue/keyvalue_batch_pb";
import { KeyValueScanInterface } from "../../proto/gen/prism/interfaces/keyvalue/keyvalue_scan_pb";
import { KeyValueTTLInterface } from "../../proto/gen/prism/interfaces/keyvalue/keyvalue_ttl_pb";
import { LifecycleInterface } from "../../proto/gen/prism/interfaces/lifecycle_pb";
import { ListBasicInterface } from "../../proto/gen/prism/interfaces/list/list_basic_pb";
import { PubSubBasicInterface } from "../../proto/gen/prism/interfaces/pubsub/pubsub_basic_pb";
import { StreamBasicInterface } from "../../proto/gen/prism/interfaces/stream/stream_basic_pb";
import { KeyValuePattern } from "../../proto/gen/prism/patterns/keyvalue/keyvalue_pattern_pb";
import { MulticastRegistryPattern } from "../../proto/gen/prism/patterns/multicast_registry/multicast_registry_pattern_pb";

/** Whether a call may last (a stream) or is one request and one answer. */
export type CallKind = "unary" | "stream";

const KNOWN: readonly DescService[] = [
  KeyValueBasicInterface,
  KeyValueTTLInterface,
  KeyValueScanInterface,
  KeyValueBatchInterface,
  ListBasicInterface,
  PubSubBasicInterface,
  StreamBasicInterface,
  KeyValuePattern,
  MulticastRegistryPattern,
  LifecycleInterface,
  Health,
  ServerReflection,
];

const UNARY_PATHS: ReadonlySet<string> = new Set(
  KNOWN.flatMap((s) => s.methods.filter((m) => m.methodKind === "unary").map((m) => `/${s.typeName}/${m.name}`)),
);

/** Unary for a method Prism's protos declare unary; any other path (streams, methods unknown here) may last. */
export function callKind(path: string): CallKind {
  return UNARY_PATHS.has(path) ? "unary" : "stream";
}
