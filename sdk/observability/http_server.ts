import { timingSafeEqual } from "node:crypto";
import { redact } from "../config/secrets";
import type { Registry } from "prom-client";

/** What the HTTP endpoints report, asked fresh on every request. */
export interface HttpProbes {
  /** Alive: the process can answer. */
  live(): boolean;
  /**
   * Ready to serve traffic (initialized, backends reachable). Gets the query of the request (e.g. the proxy's
   * /ready?namespace=NAME); undefined answers 404 (nothing of that name).
   */
  ready(query: URLSearchParams): boolean | undefined | Promise<boolean | undefined>;
  /** Extra JSON routes, e.g. /patterns on the proxy. */
  routes?: Record<string, () => unknown | Promise<unknown>>;
}

/** Protection of an HTTP endpoint server. */
export interface HttpSecurity {
  /** Required as `authorization: Bearer <token>` on /metrics and the extra routes; /health and /ready stay open. */
  token?: string;
  /** Serve HTTPS with this certificate and key (PEM). */
  tls?: { cert: string | Buffer; key: string | Buffer };
}

function sameToken(header: string | null, token: string): boolean {
  if (header === null) return false;
  const got = Buffer.from(header);
  const want = Buffer.from(`Bearer ${token}`);
  return got.length === want.length && timingSafeEqual(got, want);
}

/** Serves /health, /ready and /metrics (Prometheus text) on a port (loopback unless told otherwise); returns the bound port and a stop function. */
export function startHttpServer(port: number, registry: Registry, probes: HttpProbes, hostname = "127.0.0.1", security: HttpSecurity = {}) {
  const json = (status: number, body: unknown) => new Response(redact(JSON.stringify(body)), { status, headers: { "content-type": "application/json" } });
  const server = Bun.serve({
    port,
    hostname,
    ...(security.tls ? { tls: { cert: security.tls.cert, key: security.tls.key } } : {}),
    async fetch(req) {
      const url = new URL(req.url);
      const path = url.pathname;
      if (security.token !== undefined && path !== "/health" && path !== "/ready" && !sameToken(req.headers.get("authorization"), security.token)) {
        return json(401, { error: "this endpoint needs authorization: Bearer <admin token>" });
      }
      switch (path) {
        case "/health":
          return probes.live() ? json(200, { status: "healthy" }) : json(503, { status: "unhealthy" });
        case "/ready": {
          const ready = await probes.ready(url.searchParams);
          if (ready === undefined) return json(404, { status: "unknown", error: `nothing named by ${url.search}` });
          return ready ? json(200, { status: "ready" }) : json(503, { status: "not ready" });
        }
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
