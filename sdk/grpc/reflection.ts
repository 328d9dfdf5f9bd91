import type { DescFile, DescService, MessageInitShape } from "@bufbuild/protobuf";
import { createRegistry, toBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import type * as grpc from "@grpc/grpc-js";
import * as v1 from "../../proto/gen/grpc/reflection/v1/reflection_pb";
import * as v1alpha from "../../proto/gen/grpc/reflection/v1alpha/reflection_pb";
import { Code } from "./errors";
import { addService } from "./server";

type Request = v1.ServerReflectionRequest | v1alpha.ServerReflectionRequest;
type Response = MessageInitShape<typeof v1.ServerReflectionResponseSchema>;

/** Every file a set of services needs, dependencies first. */
function filesOf(services: readonly DescService[]): DescFile[] {
  const seen = new Map<string, DescFile>();
  const visit = (f: DescFile) => {
    if (seen.has(f.name)) return;
    for (const dep of f.dependencies) visit(dep);
    seen.set(f.name, f);
  };
  for (const s of services) visit(s.file);
  return [...seen.values()];
}

/**
 * Answers reflection requests from the descriptors protobuf-es embeds: the
 * service list, a file by name, the file defining a symbol (each with its
 * transitive dependencies, serialized once on first use).
 */
export class ReflectionIndex {
  private readonly registry;
  private readonly files = new Map<string, DescFile>();
  private readonly serviceNames: string[];
  private readonly encoded = new Map<string, Uint8Array>();

  constructor(services: readonly DescService[]) {
    const files = filesOf(services);
    this.registry = createRegistry(...files);
    for (const f of files) this.files.set(f.proto.name, f);
    this.serviceNames = services.map((s) => s.typeName);
  }

  /** A file and everything it imports, as serialized FileDescriptorProtos. */
  private withDependencies(file: DescFile): Uint8Array[] {
    return filesOf([{ file } as DescService]).map((f) => {
      let bytes = this.encoded.get(f.name);
      if (!bytes) {
        bytes = toBinary(FileDescriptorProtoSchema, f.proto);
        this.encoded.set(f.name, bytes);
      }
      return bytes;
    });
  }

  private fileOfSymbol(symbol: string): DescFile | undefined {
    const name = symbol.replace(/^\./, "");
    const desc = this.registry.get(name);
    if (desc) return desc.file;
    // A method or field name: the file of its parent.
    const dot = name.lastIndexOf(".");
    return dot > 0 ? this.registry.get(name.slice(0, dot))?.file : undefined;
  }

  answer(req: Request): Response {
    const base = { validHost: req.host, originalRequest: req as v1.ServerReflectionRequest };
    const notFound = (what: string): Response => ({
      ...base,
      messageResponse: { case: "errorResponse", value: { errorCode: Code.NOT_FOUND, errorMessage: `${what} not found` } },
    });
    const files = (f: DescFile | undefined, what: string): Response =>
      f ? { ...base, messageResponse: { case: "fileDescriptorResponse", value: { fileDescriptorProto: this.withDependencies(f) } } } : notFound(what);
    const r = req.messageRequest;
    switch (r.case) {
      case "listServices":
        return { ...base, messageResponse: { case: "listServicesResponse", value: { service: this.serviceNames.map((name) => ({ name })) } } };
      case "fileByFilename":
        return files(this.files.get(r.value), `file ${r.value}`);
      case "fileContainingSymbol":
        return files(this.fileOfSymbol(r.value), `symbol ${r.value}`);
      case "allExtensionNumbersOfType":
        return this.registry.getMessage(r.value)
          ? { ...base, messageResponse: { case: "allExtensionNumbersResponse", value: { baseTypeName: r.value, extensionNumber: [] } } }
          : notFound(`type ${r.value}`);
      case "fileContainingExtension":
        return notFound(`extension ${r.value.containingType}(${r.value.extensionNumber})`);
      default:
        return { ...base, messageResponse: { case: "errorResponse", value: { errorCode: Code.INVALID_ARGUMENT, errorMessage: "empty request" } } };
    }
  }
}

/**
 * Serves grpc.reflection v1 and v1alpha for the given services, so grpcurl and
 * similar tools work. The index is built on the first request, not at start-up.
 */
export function addReflection(server: grpc.Server, services: readonly DescService[]): void {
  const all = [...services, v1.ServerReflection, v1alpha.ServerReflection];
  let index: ReflectionIndex | undefined;
  const handler = async function* (requests: AsyncIterable<Request>): AsyncIterable<Response> {
    index ??= new ReflectionIndex(all);
    for await (const req of requests) yield index.answer(req);
  };
  addService(server, v1.ServerReflection, { serverReflectionInfo: handler });
  addService(server, v1alpha.ServerReflection, { serverReflectionInfo: handler as never });
}
