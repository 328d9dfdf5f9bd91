import type { ClientEvent } from "./options";
import type { Stats } from "./pattern";

/** What countEmulated needs of a counter: prom-client's Counter (labelNames pattern, operation, backend) fits. */
export interface LabelledCounter {
  inc(labels: Record<string, string>, value?: number): void;
}

/**
 * An onEvent hook that counts each emulated operation in `counter` with labels pattern, operation and backend,
 * then passes every event to `next` (e.g. a logger). The default hook's console.warn is replaced.
 */
export function countEmulated(counter: LabelledCounter, next?: (e: ClientEvent) => void): (e: ClientEvent) => void {
  return (e) => {
    if (e.kind === "emulated") counter.inc({ pattern: e.pattern, operation: e.operation, backend: e.backend });
    next?.(e);
  };
}

const label = (v: string) => v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");

/** A connection's counters in the Prometheus text format, for an application's own /metrics. */
export function prometheusText(stats: Stats): string {
  const lines = [
    "# HELP prism_client_emulated_operations_total Calls the namespace's backend served by emulation, per pattern and operation.",
    "# TYPE prism_client_emulated_operations_total counter",
  ];
  for (const [key, n] of Object.entries(stats.emulated).sort(([a], [b]) => a.localeCompare(b))) {
    const dot = key.indexOf(".");
    lines.push(`prism_client_emulated_operations_total{pattern="${label(key.slice(0, dot))}",operation="${label(key.slice(dot + 1))}"} ${n}`);
  }
  for (const [name, help, n] of [
    ["prism_client_retries_total", "Attempts sent again after a failure.", stats.retries],
    ["prism_client_failovers_total", "Retries sent to another proxy address.", stats.failovers],
    ["prism_client_resubscriptions_total", "Subscriptions opened again after a failure.", stats.resubscriptions],
  ] as const)
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} counter`, `${name} ${n}`);
  return `${lines.join("\n")}\n`;
}
