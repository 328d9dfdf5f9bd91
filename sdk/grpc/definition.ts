import type { DescMessage, DescMethod, DescService } from "@bufbuild/protobuf";
import { fromBinary, toBinary, create, type MessageShape } from "@bufbuild/protobuf";
import type { MethodDefinition, ServiceDefinition } from "@grpc/grpc-js";

/** The gRPC path of a method: /package.Service/Method. */
export function methodPath(method: DescMethod): string {
  return `/${method.parent.typeName}/${method.name}`;
}

function serializerFor(schema: DescMessage) {
  return (msg: unknown): Buffer => {
    const m = msg as MessageShape<DescMessage>;
    // Handlers may return plain init objects; create() returns real messages unchanged.
    const bytes = toBinary(schema, m.$typeName === schema.typeName ? m : create(schema, m as never));
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  };
}

function deserializerFor(schema: DescMessage) {
  return (buf: Buffer): unknown => fromBinary(schema, buf);
}

/**
 * A request whose bytes do not decode (truncated, malformed, invalid UTF-8 in a string field). grpc-js answers
 * a deserializer that throws with INTERNAL; the server's request deserializer returns this instead, and the
 * adapter answers INVALID_ARGUMENT (contract §5: a malformed request is the caller's fault).
 */
export class MalformedRequest {
  constructor(
    readonly typeName: string,
    readonly reason: string,
  ) {}

  get message(): string {
    return `malformed ${this.typeName}: ${this.reason}`;
  }
}

function requestDeserializerFor(schema: DescMessage) {
  return (buf: Buffer): unknown => {
    try {
      return fromBinary(schema, buf);
    } catch (err) {
      return new MalformedRequest(schema.typeName, err instanceof Error ? err.message : String(err));
    }
  };
}

const cache = new WeakMap<DescService, ServiceDefinition>();

/**
 * Builds the grpc-js ServiceDefinition of any protobuf-es service descriptor,
 * with protobuf-es serializers. Computed once per service.
 */
export function serviceDefinition(service: DescService): ServiceDefinition {
  let def = cache.get(service);
  if (def) return def;
  const methods: Record<string, MethodDefinition<unknown, unknown>> = {};
  for (const method of service.methods) {
    const md: MethodDefinition<unknown, unknown> = {
      path: methodPath(method),
      requestStream: method.methodKind === "client_streaming" || method.methodKind === "bidi_streaming",
      responseStream: method.methodKind === "server_streaming" || method.methodKind === "bidi_streaming",
      requestSerialize: serializerFor(method.input),
      requestDeserialize: requestDeserializerFor(method.input),
      responseSerialize: serializerFor(method.output),
      responseDeserialize: deserializerFor(method.output),
      originalName: method.localName,
    };
    methods[method.localName] = md;
  }
  def = methods as ServiceDefinition;
  cache.set(service, def);
  return def;
}
