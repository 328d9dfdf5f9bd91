import { timingSafeEqual } from "node:crypto";
import type { LifecycleInterface } from "../../proto/gen/prism/interfaces/lifecycle_pb";
import { Code, PrismError } from "../errors";
import type { ServiceImpl } from "../grpc/types";

/** Metadata a caller presents the pattern's admin credential in (run on its own). */
export const ADMIN_TOKEN_HEADER = "x-prism-admin-token";

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * Who may drive a pattern's lifecycle over its own gRPC port (issue 11). Launched
 * by a proxy: nobody — Initialize, Start, Drain and Stop come over the control
 * stream only; HealthCheck stays open (the proxy forwards it to clients).
 * Run on its own: Drain and Stop need the configured admin credential
 * (x-prism-admin-token), and without one configured they are refused; Initialize
 * and Start stay open because they change nothing on a pattern that initialized
 * itself from its own config (a proxy reaching it by address: sends them).
 */
export function guardLifecycle(
  impl: ServiceImpl<typeof LifecycleInterface>,
  mode: { launched: boolean; adminToken?: string },
): ServiceImpl<typeof LifecycleInterface> {
  const refuse = (what: string): never => {
    throw new PrismError(
      Code.PERMISSION_DENIED,
      mode.launched
        ? `${what} is not accepted on this port: the proxy that launched this pattern drives its lifecycle`
        : `${what} needs the pattern's admin credential (${ADMIN_TOKEN_HEADER}; configure security.admin_token)`,
    );
  };
  const admitted = (md: { get(k: string): unknown[] }): boolean => {
    if (mode.launched || mode.adminToken === undefined) return false;
    const v = md.get(ADMIN_TOKEN_HEADER)[0];
    return typeof v === "string" && same(v, mode.adminToken);
  };
  if (mode.launched) {
    return {
      initialize: () => refuse("Initialize"),
      start: () => refuse("Start"),
      drain: () => refuse("Drain"),
      stop: () => refuse("Stop"),
      healthCheck: impl.healthCheck,
    };
  }
  return {
    initialize: impl.initialize,
    start: impl.start,
    drain: (req, ctx) => (admitted(ctx.metadata) ? impl.drain(req, ctx) : refuse("Drain")),
    stop: (req, ctx) => (admitted(ctx.metadata) ? impl.stop(req, ctx) : refuse("Stop")),
    healthCheck: impl.healthCheck,
  };
}
