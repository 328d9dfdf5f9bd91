import { Counter, type Registry } from "prom-client";

const counters = new WeakMap<Registry, Counter<"namespace" | "operation">>();

/** prism_emulated_operations_total{namespace,operation}, one per registry. */
export function emulatedOperations(registry: Registry): Counter<"namespace" | "operation"> {
  let c = counters.get(registry);
  if (c === undefined) {
    c = new Counter({
      name: "prism_emulated_operations_total",
      help: "Key-value operations the SDK's emulation layer served (scan over key listing, pipelined batches, expiry kept beside the value).",
      labelNames: ["namespace", "operation"],
      registers: [registry],
    });
    counters.set(registry, c);
  }
  return c;
}
