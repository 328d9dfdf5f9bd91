import { randomBytes, timingSafeEqual } from "node:crypto";
import * as grpc from "@grpc/grpc-js";

/**
 * The proxy's own gRPC server (health, reflection) listens on a loopback port the router relays to. With
 * authentication on, that port must not be a way around it: the router's gate adds a per-process secret to
 * every call it admits, and the server refuses calls without it. The gate also says which namespaces the
 * caller may see (health answers for the others exactly as for a namespace that does not exist).
 */
export const LOCAL_SECRET_HEADER = "x-prism-local-secret";
export const VISIBLE_NAMESPACES_HEADER = "x-prism-visible-namespaces";

export function newLocalSecret(): string {
  return randomBytes(32).toString("base64url");
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Refuses (UNAUTHENTICATED) every call whose metadata lacks the secret `secret()` returns; none = no check. */
export function localSecretInterceptor(secret: () => string | undefined): grpc.ServerInterceptor {
  return (_method, call) =>
    new grpc.ServerInterceptingCall(
      call,
      new grpc.ResponderBuilder()
        .withStart((next) =>
          next(
            new grpc.ServerListenerBuilder()
              .withOnReceiveMetadata((md, pass) => {
                const want = secret();
                const got = md.get(LOCAL_SECRET_HEADER)[0];
                if (want !== undefined && !(typeof got === "string" && same(got, want))) {
                  call.sendStatus({ code: grpc.status.UNAUTHENTICATED, details: "authentication required", metadata: new grpc.Metadata() });
                  return;
                }
                md.remove(LOCAL_SECRET_HEADER);
                pass(md);
              })
              .build(),
          ),
        )
        .build(),
    );
}

/** The namespaces the gate said this caller may see. */
export function visibleNamespaces(md: grpc.Metadata): Set<string> {
  const v = md.get(VISIBLE_NAMESPACES_HEADER)[0];
  return new Set(typeof v === "string" && v !== "" ? v.split(",") : []);
}
