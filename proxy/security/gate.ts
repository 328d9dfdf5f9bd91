import type http2 from "node:http2";
import { Code } from "@prism/sdk";
import { respondWithStatus } from "../h2/status";
import type { ProxyMetrics } from "../metrics";
import type { AuditLog } from "./audit";
import { API_KEY_HEADER, AuthFailure, type Authenticator, type Identity } from "./authn";
import type { Authorizer } from "./authz";
import { LOCAL_SECRET_HEADER, newLocalSecret, VISIBLE_NAMESPACES_HEADER } from "./local_access";
import { CLASS_BIT, OPEN_SERVICES, operationClass } from "./operations";

/** What the router does with a call after the gate: forward it (true), or nothing (false: answered already). */
export type GateResult = boolean | Promise<boolean>;

/** Credentials end at the proxy: the pattern (and its traces and logs) never sees them. */
function stripCredentials(headers: http2.IncomingHttpHeaders): true {
  if (headers.authorization !== undefined) delete headers.authorization;
  if (headers[API_KEY_HEADER] !== undefined) delete headers[API_KEY_HEADER];
  return true;
}

function peerOf(stream: http2.ServerHttp2Stream): string {
  const s = stream.session?.socket;
  return s?.remoteAddress ? `${s.remoteAddress}:${s.remotePort}` : "unknown";
}

/**
 * Authentication then authorization of one call, before it is forwarded:
 * UNAUTHENTICATED (reason only in the audit line), PERMISSION_DENIED when the
 * caller's rules do not grant the method's class on the namespace. Denials are
 * audited, allowed writes too when configured.
 */
export class SecurityGate {
  /** Added to every call the gate lets through to the proxy's own server, which refuses calls without it. */
  readonly localSecret = newLocalSecret();

  constructor(
    private readonly authn: Authenticator,
    private readonly authz: Authorizer,
    private readonly audit: AuditLog,
    private readonly metrics: ProxyMetrics,
    /** Every configured namespace (health tells a caller about those it holds some grant on). */
    private namespaces: readonly string[] = [],
  ) {}

  /** The namespaces configured now (after a live configuration change). */
  setNamespaces(names: readonly string[]): void {
    this.namespaces = names;
  }

  /** A call to a namespace's pattern. */
  check(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, path: string, namespace: string): GateResult {
    const id = this.authn.authenticate(stream.session, headers);
    if (id instanceof Promise) return id.then((r) => !stream.destroyed && this.decide(stream, r, path, namespace) && stripCredentials(headers));
    return this.decide(stream, id, path, namespace) && stripCredentials(headers);
  }

  /**
   * A call the proxy answers itself: health is open, but a namespace's status only to a caller with some grant on
   * it (to others it is as unknown as a namespace that does not exist); reflection needs any valid credential.
   */
  checkLocal(stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, path: string): GateResult {
    // Whatever the caller sent under these names is replaced: only the gate says what it may see.
    delete headers[VISIBLE_NAMESPACES_HEADER];
    headers[LOCAL_SECRET_HEADER] = this.localSecret;
    const open = OPEN_SERVICES.some((s) => path.startsWith(`/${s}/`));
    const id = this.authn.authenticate(stream.session, headers);
    const after = (r: Identity | AuthFailure): boolean => {
      if (!open) return r instanceof AuthFailure ? this.unauthenticated(stream, r, path, "") : true;
      headers[VISIBLE_NAMESPACES_HEADER] = r instanceof AuthFailure ? "" : this.namespaces.filter((ns) => this.authz.grants(r, ns) !== 0).join(",");
      return stripCredentials(headers);
    };
    return id instanceof Promise ? id.then((r) => !stream.destroyed && after(r)) : after(id);
  }

  private decide(stream: http2.ServerHttp2Stream, id: Identity | AuthFailure, path: string, namespace: string): boolean {
    if (id instanceof AuthFailure) return this.unauthenticated(stream, id, path, namespace);
    const cls = operationClass(path);
    if (cls !== undefined && (this.authz.grants(id, namespace) & CLASS_BIT[cls]) !== 0) {
      if (cls !== "read" && this.audit.cfg.allowedWrites) {
        this.audit.record({ decision: "allow", principal: id.principal, namespace, method: path, operation: cls, peer: peerOf(stream) });
      }
      return true;
    }
    const reason = cls === undefined ? "method is not classified read/write/admin" : `no rule grants ${cls} on this namespace`;
    this.audit.record({ decision: "deny", principal: id.principal, namespace, method: path, operation: cls, peer: peerOf(stream), reason });
    this.metrics.reject("permission_denied");
    respondWithStatus(
      stream,
      Code.PERMISSION_DENIED,
      cls === undefined ? `${path.slice(1)} is not open to clients` : `${id.principal} may not ${cls} namespace "${namespace}"`,
    );
    return false;
  }

  private unauthenticated(stream: http2.ServerHttp2Stream, f: AuthFailure, path: string, namespace: string): false {
    this.audit.record({ decision: "unauthenticated", principal: "anonymous", namespace, method: path, peer: peerOf(stream), reason: f.reason });
    this.metrics.reject("unauthenticated");
    respondWithStatus(stream, Code.UNAUTHENTICATED, f.missing ? "authentication required" : "invalid credentials");
    return false;
  }
}
