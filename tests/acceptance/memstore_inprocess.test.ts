/**
 * The acceptance suites against the memstore pattern hosted in this process, wired as sdk/serve.ts wires it
 * (PatternRuntime, every binding through the metrics interceptor and the runtime's gate, a grpc-js server on
 * loopback) but without serve()'s signal handling and process exit. The same suites run against dist/memstore
 * in the other files; here the SDK's service code runs where `bun test --coverage` can measure it.
 */
import * as grpc from "@grpc/grpc-js";
import { Registry } from "prom-client";
import { memstorePattern } from "../../memstore/pattern";
import { DriverMetrics } from "../../sdk/drivers/instrument";
import { addService } from "../../sdk/grpc/server";
import { bindServer, serverOptions, stopServer } from "../../sdk/grpc/server_factory";
import { PatternRuntime } from "../../sdk/lifecycle/runtime";
import { createLogger } from "../../sdk/observability/logger";
import { Metrics } from "../../sdk/observability/metrics";
import { runKeyValueSuite } from "./keyvalue.suite";
import { runKeyValuePatternSuite } from "./keyvalue_pattern.suite";
import { runListSuite } from "./list.suite";
import { runPubSubSuite } from "./pubsub.suite";
import { runStreamSuite } from "./stream.suite";
import type { Target } from "./target";

async function inProcessMemstore(config: Record<string, unknown> = {}): Promise<Target> {
  const metrics = new Metrics({ name: "memstore", version: memstorePattern.version });
  const registry: Registry = metrics.registry;
  const runtime = new PatternRuntime(memstorePattern, {
    logger: createLogger({ level: "error", write: () => {} }),
    driverMetrics: new DriverMetrics(registry),
    registry,
    configFile: "in-process",
  });
  const server = new grpc.Server(serverOptions);
  for (const b of memstorePattern.bindings) {
    addService(server, b.service, b.implement(runtime.slot, runtime.limits), [metrics.interceptor(), runtime.gate()]);
  }
  const port = await bindServer(server, "127.0.0.1", 0);
  await runtime.initialize(config);
  runtime.start();
  return {
    address: `127.0.0.1:${port}`,
    close: async () => {
      await runtime.drain(5_000);
      await stopServer(server, 5_000);
      await runtime.stop();
    },
  };
}

runKeyValueSuite("memstore in-process", () => inProcessMemstore({ max_keys: 3000 }));
runListSuite("memstore in-process", () => inProcessMemstore());
runPubSubSuite("memstore in-process", () => inProcessMemstore());
runStreamSuite("memstore in-process", () => inProcessMemstore());
runKeyValuePatternSuite("memstore in-process", () => inProcessMemstore(), {
  backend: "memstore",
  scan: "native",
  batch: "native",
  expiration: "native",
});
