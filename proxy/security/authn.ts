import { createHash, timingSafeEqual } from "node:crypto";
import { readFileSync, unwatchFile, watchFile } from "node:fs";
import type http2 from "node:http2";
import { createLocalJWKSet, createRemoteJWKSet, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from "jose";
import { type Logger } from "@prism/sdk";
import { peerCertificateCN } from "./tls";

/** Asymmetric JWS algorithms a JWKS can verify; `none` and shared-secret HMAC are never accepted. */
export const JWT_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "Ed25519"] as const;

/** Authentication settings of the proxy (contract §4 `auth:`), after validation. */
export interface AuthnConfig {
  readonly jwt?: {
    readonly jwksFile?: string;
    readonly jwksUrl?: string;
    readonly issuer?: string;
    readonly audience?: readonly string[];
    readonly algorithms: readonly string[];
    /** Tolerance for exp / nbf / iat, seconds. */
    readonly clockSkewS: number;
  };
  /** File of `name: sha256:<hex>` lines (re-read on change; a removed line revokes the key). */
  readonly apiKeysFile?: string;
  /** Environment variable holding the same lines (or comma-separated entries). */
  readonly apiKeysEnv?: string;
  /** The subject CN of a verified client certificate is a principal (`cert:<CN>`); true when the listener requires client certificates. */
  readonly clientCertificates: boolean;
}

/** Who a caller is: the principal strings authorization rules match (contract §4). */
export interface Identity {
  /** The principal named in audit lines: the first of principals. */
  readonly principal: string;
  /** `sub:…`, `claim:name=value`, `key:…`, `cert:…`. */
  readonly principals: readonly string[];
  /** Not valid after this (ms since epoch; Infinity for keys and certificates). */
  readonly expiresAt: number;
  /** Key material generation it was verified against; a reload (revocation, rotation) makes it stale. */
  readonly generation: number;
  /** Operation-class grants per namespace, filled by the authorizer. */
  readonly grants: Map<string, number>;
}

/** Why a call is not authenticated. The reason goes to the audit log, never to the caller. */
export class AuthFailure {
  constructor(
    /** No credential at all (vs. a credential that did not verify). */
    readonly missing: boolean,
    readonly reason: string,
  ) {}
}

export const API_KEY_HEADER = "x-api-key";
const TOKEN_CACHE_MAX = 10_000;

/** sha256 hex of an API key, the form stored in the keys file. */
export function hashApiKey(key: string): string {
  return createHash("sha256").update(key, "utf8").digest("hex");
}

/** Parses `name: sha256:<hex>` entries (newline or comma separated, # comments). */
export function parseApiKeys(text: string, where: string): Map<string, string> {
  const byHash = new Map<string, string>();
  for (const raw of text.split(/[\n,]/)) {
    const line = raw.replace(/#.*/, "").trim();
    if (line === "") continue;
    const m = /^([A-Za-z0-9_.@-]+)\s*[:=\s]\s*(?:sha256:)?([0-9a-fA-F]{64})$/.exec(line);
    if (!m) throw new Error(`${where}: each entry must be "name: sha256:<64 hex digits>" (the key itself is never stored)`);
    byHash.set(m[2]!.toLowerCase(), m[1]!);
  }
  return byHash;
}

interface ConnState {
  authorization: string | undefined;
  apiKey: string | undefined;
  identity: Identity;
}

function header(headers: http2.IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/**
 * Verifies the credentials of a call: a JWT bearer token (jose, keys from a JWKS
 * file or URL), an API key (stored hashed), the subject of a verified client
 * certificate — any combination; every credential presented must verify. The
 * result is cached per connection (same headers → no work) and per token
 * (until it expires), so the hot path costs a WeakMap lookup and two string compares.
 */
export class Authenticator {
  private keys: JWTVerifyGetKey | undefined;
  private apiKeys = new Map<string, string>();
  private generation = 0;
  private readonly tokens = new Map<string, Identity>();
  private readonly conns = new WeakMap<object, ConnState>();
  private readonly unwatch: (() => void)[] = [];

  constructor(
    private readonly cfg: AuthnConfig,
    private readonly logger: Logger,
  ) {
    const jwt = cfg.jwt;
    if (jwt?.jwksFile) {
      this.keys = this.loadJwks(jwt.jwksFile);
      this.watch(jwt.jwksFile, () => (this.keys = this.loadJwks(jwt.jwksFile!)));
    } else if (jwt?.jwksUrl) {
      this.keys = createRemoteJWKSet(new URL(jwt.jwksUrl), { cooldownDuration: 30_000, cacheMaxAge: 600_000 });
    }
    if (cfg.apiKeysFile) {
      this.apiKeys = this.loadApiKeys();
      this.watch(cfg.apiKeysFile, () => (this.apiKeys = this.loadApiKeys()));
    } else if (cfg.apiKeysEnv) {
      this.apiKeys = this.loadApiKeys();
    }
  }

  private loadJwks(file: string): JWTVerifyGetKey {
    return createLocalJWKSet(JSON.parse(readFileSync(file, "utf8")));
  }

  private loadApiKeys(): Map<string, string> {
    if (this.cfg.apiKeysFile) return parseApiKeys(readFileSync(this.cfg.apiKeysFile, "utf8"), this.cfg.apiKeysFile);
    const text = process.env[this.cfg.apiKeysEnv!];
    if (text === undefined) throw new Error(`auth.api_keys_env: environment variable ${this.cfg.apiKeysEnv} is not set`);
    return parseApiKeys(text, `environment variable ${this.cfg.apiKeysEnv}`);
  }

  /** Re-reads a file when it changes; every cached identity becomes stale (revocation, key rotation). */
  private watch(file: string, load: () => void): void {
    watchFile(file, { interval: 500, persistent: false }, (cur, prev) => {
      if (cur.mtimeMs === prev.mtimeMs && cur.size === prev.size && cur.ino === prev.ino) return;
      try {
        load();
        this.generation++;
        this.tokens.clear();
        this.logger.info("credentials file reloaded", { file });
      } catch (err) {
        // Fail closed for what changed: keep the old set only if the new one cannot be read at all.
        this.logger.warn("credentials file changed but cannot be read; keeping the previous contents", { file, err });
      }
    });
    this.unwatch.push(() => unwatchFile(file));
  }

  close(): void {
    for (const u of this.unwatch.splice(0)) u();
  }

  /** The caller's identity, an AuthFailure, or a promise of one of them (first sight of a JWT). */
  authenticate(session: http2.Http2Session | undefined, headers: http2.IncomingHttpHeaders): Identity | AuthFailure | Promise<Identity | AuthFailure> {
    const authorization = header(headers, "authorization");
    const apiKey = header(headers, API_KEY_HEADER);
    const conn = session !== undefined ? this.conns.get(session) : undefined;
    if (
      conn !== undefined &&
      conn.authorization === authorization &&
      conn.apiKey === apiKey &&
      conn.identity.generation === this.generation &&
      conn.identity.expiresAt > Date.now()
    ) {
      return conn.identity;
    }
    const r = this.verify(session, authorization, apiKey);
    const remember = (id: Identity | AuthFailure) => {
      if (id instanceof AuthFailure || session === undefined) return id;
      this.conns.set(session, { authorization, apiKey, identity: id });
      return id;
    };
    return r instanceof Promise ? r.then(remember) : remember(r);
  }

  private verify(
    session: http2.Http2Session | undefined,
    authorization: string | undefined,
    apiKey: string | undefined,
  ): Identity | AuthFailure | Promise<Identity | AuthFailure> {
    const principals: string[] = [];
    const expiresAt = Infinity;
    if (this.cfg.clientCertificates) {
      const cn = peerCertificateCN(session?.socket);
      if (cn !== undefined) principals.push(`cert:${cn}`);
    }
    if (apiKey !== undefined) {
      if (this.apiKeys.size === 0) return new AuthFailure(false, "API key presented but no API keys are configured");
      const name = this.lookupApiKey(apiKey);
      if (name === undefined) return new AuthFailure(false, "unknown or revoked API key");
      principals.unshift(`key:${name}`);
    }
    const generation = this.generation;
    if (authorization !== undefined) {
      const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
      if (!m) return new AuthFailure(false, "malformed authorization header (expected: Bearer <token>)");
      if (this.keys === undefined) return new AuthFailure(false, "bearer token presented but no JWT verification is configured");
      const token = m[1]!;
      const cached = this.tokens.get(token);
      const merge = (id: Identity): Identity => ({
        principal: id.principal,
        principals: [...id.principals, ...principals],
        expiresAt: Math.min(id.expiresAt, expiresAt),
        generation,
        grants: new Map(),
      });
      if (cached !== undefined && cached.generation === generation && cached.expiresAt > Date.now()) {
        return principals.length === 0 ? cached : merge(cached);
      }
      return this.verifyJwt(token, generation).then((r) => (r instanceof AuthFailure || principals.length === 0 ? r : merge(r)));
    }
    if (principals.length === 0) return new AuthFailure(true, "no credentials (no bearer token, API key or client certificate)");
    return { principal: principals[0]!, principals, expiresAt, generation, grants: new Map() };
  }

  private lookupApiKey(key: string): string | undefined {
    const hash = hashApiKey(key);
    const name = this.apiKeys.get(hash);
    if (name === undefined) return undefined;
    // The map lookup found it by hash; compare again in constant time for good measure.
    const want = Buffer.from(hash, "hex");
    for (const [h, n] of this.apiKeys) if (n === name && timingSafeEqual(Buffer.from(h, "hex"), want)) return name;
    return undefined;
  }

  private async verifyJwt(token: string, generation: number): Promise<Identity | AuthFailure> {
    const jwt = this.cfg.jwt!;
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, this.keys!, {
        issuer: jwt.issuer,
        audience: jwt.audience as string[] | undefined,
        algorithms: jwt.algorithms as string[],
        clockTolerance: jwt.clockSkewS,
        requiredClaims: ["exp"],
      }));
    } catch (err) {
      const e = err as { code?: string; message?: string };
      return new AuthFailure(false, `bearer token rejected: ${e.code ?? "ERR"}: ${e.message ?? String(err)}`);
    }
    const principals: string[] = [];
    if (typeof payload.sub === "string") principals.push(`sub:${payload.sub}`);
    for (const [name, v] of Object.entries(payload)) {
      if (typeof v === "string" || typeof v === "number" || typeof v === "boolean") principals.push(`claim:${name}=${v}`);
      else if (Array.isArray(v)) for (const item of v) if (typeof item === "string") principals.push(`claim:${name}=${item}`);
    }
    const id: Identity = {
      principal: principals[0] ?? "jwt",
      principals,
      expiresAt: payload.exp! * 1000 + jwt.clockSkewS * 1000,
      generation,
      grants: new Map(),
    };
    if (this.tokens.size >= TOKEN_CACHE_MAX) this.tokens.clear();
    this.tokens.set(token, id);
    return id;
  }
}
