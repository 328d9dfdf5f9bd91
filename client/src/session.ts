import {
  type DeleteSessionResponse,
  type ListSessionsResponse,
  type Session,
  type SessionStoreCapabilities,
  SessionStorePattern,
  Support,
} from "../../proto/gen/prism/patterns/session/session_store_pattern_pb";
import { definePattern, type ModuleContext, require } from "./pattern";
import type { CallOptions } from "./transport";

export type { Session, SessionStoreCapabilities };

/** Attribute values: strings are stored as UTF-8. */
export type Attributes = Record<string, string | Uint8Array>;

const encoder = new TextEncoder();
const attributesOf = (a: Attributes | undefined): Record<string, Uint8Array> | undefined =>
  a === undefined ? undefined : Object.fromEntries(Object.entries(a).map(([k, v]) => [k, typeof v === "string" ? encoder.encode(v) : v]));

/**
 * The Session Store (prism.patterns.session.SessionStorePattern): sessions of an owner with attributes and a
 * sliding expiry. create/update/delete carry the client's idempotency key and are retried; touch is idempotent;
 * get and list are reads. An update with `expectedVersion` that finds another version fails with reason
 * `version_conflict` and `currentVersion` set; one on a missing (or expired) session with reason `not_found`.
 */
export class SessionClient {
  /** The shards' backend types, e.g. "redis" or "memstore+postgres". */
  readonly backend: string;

  constructor(
    private readonly ctx: ModuleContext,
    /** The namespace's GetCapabilities answer, fetched on connect. */
    readonly capabilities: SessionStoreCapabilities,
  ) {
    const types = [...new Set(capabilities.sharding?.shards.map((s) => s.backendType).filter(Boolean))];
    this.backend = types.length > 0 ? types.join("+") : "this backend";
  }

  private call<T>(method: string, req: unknown, safety: "read" | "keyed" | "idempotent", opts?: CallOptions): Promise<T> {
    return this.ctx.transport.unary<T>(SessionStorePattern, method, req, safety, opts);
  }

  /** Refuses a feature the capabilities call unavailable and reports an emulated one. */
  private check(feature: "compare-and-set" | "sliding expiry", support: Support, field: string): void {
    require(support !== Support.UNAVAILABLE, feature, this.backend, `the namespace's capabilities say ${field}=SUPPORT_UNAVAILABLE`);
    if (support === Support.EMULATED) this.ctx.emulated("session", feature, this.backend, `${field}=SUPPORT_EMULATED`);
  }

  /** Asks again (connect() already did: `capabilities`). */
  async getCapabilities(_req: object = {}, opts?: CallOptions): Promise<SessionStoreCapabilities> {
    return this.call("getCapabilities", {}, "read", opts);
  }

  /** A new session of `owner`; ttlSeconds 0 or absent = the namespace's default ttl. */
  async create(owner: string, options: CallOptions & { attributes?: Attributes; ttlSeconds?: number } = {}): Promise<Session> {
    const { attributes, ttlSeconds, ...opts } = options;
    return this.call("createSession", { owner, attributes: attributesOf(attributes), ttlSeconds: ttlSeconds ?? 0 }, "keyed", opts);
  }

  /** The session, or undefined when it does not exist (or expired). */
  async get(sessionId: string, opts?: CallOptions): Promise<Session | undefined> {
    const r = await this.call<{ found: boolean; session?: Session }>("getSession", { sessionId }, "read", opts);
    return r.found ? r.session : undefined;
  }

  /**
   * Sets and removes attributes; the version goes up by one. With `expectedVersion` a compare-and-set: another
   * version fails with reason `version_conflict` and `currentVersion`; a missing session with reason `not_found`.
   */
  async update(sessionId: string, change: { set?: Attributes; remove?: string[]; expectedVersion?: bigint | number }, opts?: CallOptions): Promise<Session> {
    const expectedVersion = change.expectedVersion === undefined ? undefined : BigInt(change.expectedVersion);
    if (expectedVersion !== undefined) this.check("compare-and-set", this.capabilities.compareAndSet, "compare_and_set");
    // A failed compare-and-set is ABORTED with the current version in x-prism-current-version: a version_conflict.
    return this.call("updateSession", { sessionId, set: attributesOf(change.set), remove: change.remove ?? [], expectedVersion }, "keyed", opts);
  }

  /** Slides the expiry: the session now expires ttlSeconds from now (0 or absent = its own ttl); the version stays. */
  async touch(sessionId: string, options: CallOptions & { ttlSeconds?: number } = {}): Promise<Session> {
    const { ttlSeconds, ...opts } = options;
    this.check("sliding expiry", this.capabilities.slidingExpiry, "sliding_expiry");
    return this.call("touch", { sessionId, ttlSeconds: ttlSeconds ?? 0 }, "idempotent", opts);
  }

  /** Deletes a session; true when it existed. */
  async delete(sessionId: string, opts?: CallOptions): Promise<boolean> {
    return (await this.call<DeleteSessionResponse>("deleteSession", { sessionId }, "keyed", opts)).found;
  }

  /** One page of an owner's sessions (limit 0 = the server's 100; cursor "" = the first page). */
  async listPage(owner: string, page: { limit?: number; cursor?: string } = {}, opts?: CallOptions): Promise<ListSessionsResponse> {
    return this.call("listSessions", { owner, limit: page.limit ?? 0, cursor: page.cursor ?? "" }, "read", opts);
  }

  /** Every session of an owner, following next_cursor. */
  async *list(owner: string, options: CallOptions & { pageSize?: number } = {}): AsyncGenerator<Session> {
    const { pageSize, ...opts } = options;
    let cursor = "";
    do {
      const page = await this.listPage(owner, { limit: pageSize, cursor }, opts);
      yield* page.sessions;
      cursor = page.nextCursor;
    } while (cursor !== "");
  }
}

export const session = definePattern({
  name: "session",
  service: SessionStorePattern,
  probe: (ctx: ModuleContext) => ctx.transport.unary<SessionStoreCapabilities>(SessionStorePattern, "getCapabilities", {}, "read"),
  create: (ctx, caps) => new SessionClient(ctx, caps!),
});
