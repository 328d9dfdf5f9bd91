import { redact } from "../config/secrets";
import { LifecycleInterface, type InitializeRequest } from "../../proto/gen/prism/interfaces/lifecycle_pb";
import { PrismError } from "../errors";
import type { ServiceImpl } from "../grpc/types";
import type { PatternRuntime } from "./runtime";

/** The google.protobuf.Struct of an InitializeRequest as a plain map. */
export function configOf(req: InitializeRequest): Record<string, unknown> {
  // protobuf-es represents google.protobuf.Struct fields as plain JSON objects.
  return (req.config as Record<string, unknown> | undefined) ?? {};
}

/** Lifecycle handlers shared by the gRPC service and the proxy control stream. */
export function lifecycleHandlers(rt: PatternRuntime, onStop: (reason: string) => void) {
  return {
    async initialize(req: InitializeRequest) {
      try {
        await rt.initialize(configOf(req));
        return { success: true, metadata: rt.patternMetadata() };
      } catch (err) {
        return { success: false, error: redact(PrismError.from(err).message), metadata: rt.patternMetadata() };
      }
    },
    start() {
      try {
        rt.start();
        return { success: true, dataEndpoint: rt.dataEndpoint };
      } catch (err) {
        return { success: false, error: redact(PrismError.from(err).message) };
      }
    },
    async drain(req: { timeoutSeconds: number }) {
      const { drained, aborted } = await rt.drain((req.timeoutSeconds || 30) * 1000);
      return { success: true, drainedOperations: BigInt(drained), abortedOperations: BigInt(aborted) };
    },
    async stop(req: { timeoutSeconds: number }) {
      await rt.drain((req.timeoutSeconds || 30) * 1000);
      // Answer first, then let the process shut down.
      setTimeout(() => onStop("lifecycle Stop"), 10);
      return { success: true };
    },
    healthCheck: () => rt.health(),
  };
}

/** LifecycleInterface over gRPC, for a proxy that reaches the pattern by address. */
export function lifecycleService(rt: PatternRuntime, onStop: (reason: string) => void): ServiceImpl<typeof LifecycleInterface> {
  return lifecycleHandlers(rt, onStop);
}
