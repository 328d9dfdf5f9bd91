/**
 * Every method of every service a client can reach through the proxy, mapped to
 * the operation class authorization rules grant (issue 11): `read` observes data,
 * `write` changes it, `admin` removes data in bulk or changes retention. A method
 * not in this table is refused when authentication is on (default deny); the
 * test in operations.test.ts fails when a generated service has a method missing here.
 */
export type OperationClass = "read" | "write" | "admin";

/** Bit per class, so a grant is one small integer. */
export const CLASS_BIT: Record<OperationClass, number> = { read: 1, write: 2, admin: 4 };

const TABLE: Record<string, Record<string, OperationClass>> = {
  "prism.interfaces.keyvalue.KeyValueBasicInterface": { Set: "write", Get: "read", Delete: "write", Exists: "read" },
  "prism.interfaces.keyvalue.KeyValueTTLInterface": { Expire: "write", GetTTL: "read", Persist: "write" },
  "prism.interfaces.keyvalue.KeyValueScanInterface": { Scan: "read", ScanKeys: "read", Count: "read" },
  "prism.interfaces.keyvalue.KeyValueBatchInterface": { BatchSet: "write", BatchGet: "read", BatchDelete: "write" },
  "prism.interfaces.list.ListBasicInterface": {
    PushLeft: "write",
    PushRight: "write",
    PopLeft: "write",
    PopRight: "write",
    Length: "read",
    Range: "read",
  },
  "prism.interfaces.pubsub.PubSubBasicInterface": { Publish: "write", Subscribe: "read", Unsubscribe: "read" },
  "prism.interfaces.stream.StreamBasicInterface": { Append: "write", Read: "read", Trim: "admin" },
  "prism.patterns.keyvalue.KeyValuePattern": {
    GetCapabilities: "read",
    Store: "write",
    Retrieve: "read",
    Delete: "write",
    Exists: "read",
    Scan: "read",
    StoreBatch: "write",
    RetrieveBatch: "read",
    DeleteBatch: "write",
    SetExpiration: "write",
    GetExpiration: "read",
    Count: "read",
  },
  "prism.patterns.multicast_registry.MulticastRegistryPattern": {
    GetCapabilities: "read",
    Register: "write",
    Unregister: "write",
    Enumerate: "read",
    Multicast: "write",
    Subscribe: "read",
  },
  "prism.patterns.session.SessionStorePattern": {
    GetCapabilities: "read",
    CreateSession: "write",
    GetSession: "read",
    UpdateSession: "write",
    Touch: "write",
    DeleteSession: "write",
    ListSessions: "read",
  },
  "prism.patterns.cdc.CdcPattern": { GetCapabilities: "read", GetStatus: "read", Subscribe: "read" },
  "prism.patterns.producer.ProducerPattern": { GetCapabilities: "read", Publish: "write", PublishBatch: "write" },
  "prism.patterns.consumer.ConsumerPattern": {
    GetCapabilities: "read",
    Consume: "read",
    Ack: "write",
    Nack: "write",
    GetDeadLetters: "read",
    Redrive: "write",
    GetStats: "read",
  },
  // Only HealthCheck is forwarded to patterns (live health with debug details); the rest never leaves the proxy.
  "prism.interfaces.LifecycleInterface": { HealthCheck: "read", Initialize: "admin", Start: "admin", Drain: "admin", Stop: "admin" },
  // Answered by the proxy itself: changes the running configuration of the call's namespace.
  "prism.admin.NamespaceAdmin": { PutNamespace: "admin", DeleteNamespace: "admin", GetNamespace: "admin" },
  // Never forwarded (the router refuses it first); classified so the table is complete.
  "prism.interfaces.ProxyControlPlane": { ManagePattern: "admin" },
};

/** Services answered by the proxy itself: health is open to anyone, reflection to any authenticated caller. */
export const OPEN_SERVICES: readonly string[] = ["grpc.health.v1.Health"];
export const AUTHENTICATED_SERVICES: readonly string[] = ["grpc.reflection.v1.ServerReflection", "grpc.reflection.v1alpha.ServerReflection"];

const byPath = new Map<string, OperationClass>();
for (const [service, methods] of Object.entries(TABLE)) {
  for (const [method, cls] of Object.entries(methods)) byPath.set(`/${service}/${method}`, cls);
}

/** The class of a gRPC method path (`/pkg.Service/Method`), undefined when unclassified. */
export function operationClass(path: string): OperationClass | undefined {
  return byPath.get(path);
}

/** The whole table (docs and tests). */
export function operationTable(): ReadonlyMap<string, OperationClass> {
  return byPath;
}
