import type { DescFile, DescService } from "@bufbuild/protobuf";
import { toBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { ReflectionService } from "@grpc/reflection";
import type * as grpc from "@grpc/grpc-js";

function collectFiles(file: DescFile, into: Map<string, DescFile>): void {
  if (into.has(file.name)) return;
  into.set(file.name, file);
  for (const dep of file.dependencies) collectFiles(dep, into);
}

/**
 * Serves grpc.reflection (v1 and v1alpha) for the given services, from the
 * descriptors protobuf-es embeds, so grpcurl and similar tools work.
 */
export function addReflection(server: grpc.Server, services: readonly DescService[]): void {
  const files = new Map<string, DescFile>();
  for (const s of services) collectFiles(s.file, files);
  const fileDescriptorProtos = [...files.values()].map((f) => Buffer.from(toBinary(FileDescriptorProtoSchema, f.proto)));
  // @grpc/reflection reads only fileDescriptorProtos from each package-definition entry.
  const pkg = Object.fromEntries(services.map((s) => [s.typeName, { fileDescriptorProtos }]));
  new ReflectionService(pkg as never, { services: services.map((s) => s.typeName) }).addToServer(server);
}
