import { redact } from "../config/secrets";
import type { Registry } from "prom-client";

/** What the HTTP endpoints report, asked fresh on every request. */
export interface HttpProbes {
  /** Alive: the process can answer. */
  live(): boolean;
  /** Ready to serve traffic (initialized, backends reachable). */
  ready(): boolean | Promise<boolean>;
  /** Extra JSON routes, e.g. /patterns on the proxy. */
  routes?: Record<string, () => unknown | Promise<unknown>>;
}

/** Serves /health, /ready and /metrics (Prometheus text) on a port; returns the bound port and a stop function. */
export function startHttpServer(port: number, registry: Registry, probes: HttpProbes, hostname = "0.0.0.0") {
  const json = (status: number, body: unknown) =>
    new Response(redact(JSON.stringify(body)), { status, headers: { "content-type": "application/json" } });
  const server = Bun.serve({
    port,
    hostname,
    async fetch(req) {
      const path = new URL(req.url).pathname;
      switch (path) {
        case "/health":
          return probes.live() ? json(200, { status: "healthy" }) : json(503, { status: "unhealthy" });
        case "/ready":
          return (await probes.ready()) ? json(200, { status: "ready" }) : json(503, { status: "not ready" });
        case "/metrics":
          return new Response(await registry.metrics(), { headers: { "content-type": registry.contentType } });
      }
      const route = probes.routes?.[path];
      if (route) return json(200, await route());
      return json(404, { error: `no route ${path}` });
    },
  });
  return { port: server.port as number, stop: () => server.stop(true) };
}
