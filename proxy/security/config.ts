import { isSecretRef, readSecret, registerSecret, ConfigError, type Schema } from "@prism/sdk";
import type { AuditConfig } from "./audit";
import { JWT_ALGORITHMS, type AuthnConfig } from "./authn";
import type { AuthzRule } from "./authz";
import type { OperationClass } from "./operations";
import type { TlsClientFiles, TlsServerFiles } from "./tls";

/** Security settings of the proxy (contract §4: tls, auth, authz; plus audit and the admin port's). */
export interface SecurityConfig {
  readonly tls?: TlsServerFiles;
  /** Set = authentication on (and default deny). */
  readonly auth?: AuthnConfig;
  readonly authz: readonly AuthzRule[];
  readonly audit: AuditConfig;
  readonly admin: { readonly host: string; readonly token?: string; readonly tls?: TlsServerFiles };
}

/** Per-namespace security of a remote pattern (`address:`). */
export interface RemoteSecurity {
  readonly tls?: TlsClientFiles;
}

const serverTls: Schema = {
  type: "object",
  optional: true,
  required: ["cert_file", "key_file"],
  fields: { cert_file: { type: "string" }, key_file: { type: "string" }, client_ca_file: { type: "string" } },
};

/** Top-level keys the proxy file gains (merged into proxyConfigSchema). */
export const securityFields: Record<string, Schema> = {
  tls: serverTls,
  auth: {
    type: "object",
    optional: true,
    fields: {
      jwt: {
        type: "object",
        optional: true,
        required: ["algorithms"],
        fields: {
          jwks_file: { type: "string" },
          jwks_url: { type: "string" },
          issuer: { type: "string" },
          audience: { type: "any" },
          algorithms: { type: "array", items: { type: "string" } },
          clock_skew: { type: "duration", default: "30s" },
        },
      },
      api_keys_file: { type: "string" },
      api_keys_env: { type: "string" },
    },
  },
  authz: {
    type: "array",
    default: [],
    items: {
      type: "object",
      required: ["principals", "namespaces", "allow"],
      fields: {
        principals: { type: "array", items: { type: "string" } },
        namespaces: { type: "array", items: { type: "string" } },
        allow: { type: "array", items: { type: "string", enum: ["read", "write", "admin"] } },
      },
    },
  },
  audit: {
    type: "object",
    fields: { allowed_writes: { type: "boolean", default: false }, file: { type: "string" } },
  },
};

/** Keys the admin section gains. */
export const adminSecurityFields: Record<string, Schema> = {
  host: { type: "string", default: "127.0.0.1" },
  token: { type: "any" },
  tls: serverTls,
};

/** Keys a namespace gains (remote patterns only). */
export const namespaceSecurityFields: Record<string, Schema> = {
  tls: {
    type: "object",
    optional: true,
    fields: { ca_file: { type: "string" }, cert_file: { type: "string" }, key_file: { type: "string" }, server_name: { type: "string" } },
  },
};

type Path = (string | number)[];
interface Ctx {
  file: string;
  lineOf: (path: readonly (string | number)[]) => number | undefined;
}

function failAt(ctx: Ctx, path: Path, reason: string): never {
  const key = path.reduce<string>((a, s) => (typeof s === "number" ? `${a}[${s}]` : a ? `${a}.${s}` : s), "");
  throw new ConfigError(ctx.file, key, ctx.lineOf(path), reason);
}

/** A secret value: inline string or {file}/{env}; never echoed in errors. */
export function secretValue(v: unknown, ctx: Ctx, path: Path): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v === "string") {
    if (v === "") failAt(ctx, path, "must not be empty");
    registerSecret(v);
    return v;
  }
  if (isSecretRef(v)) return readSecret(v, { file: ctx.file, lineOf: ctx.lineOf }, path);
  return failAt(ctx, path, "must be a string, {file: PATH} or {env: NAME}");
}

const PRINCIPAL_RE = /^(\*|sub:.+|claim:[^=]+=.*|key:.+|cert:.+)$/;

type RawTls = { cert_file: string; key_file: string; client_ca_file?: string } | undefined;
const tlsFiles = (t: RawTls): TlsServerFiles | undefined => t && { certFile: t.cert_file, keyFile: t.key_file, clientCaFile: t.client_ca_file };

/** Checks and converts the validated security sections. */
export function parseSecurity(
  raw: {
    tls?: RawTls;
    auth?: { jwt?: Record<string, unknown>; api_keys_file?: string; api_keys_env?: string };
    authz: { principals: string[]; namespaces: string[]; allow: OperationClass[] }[];
    audit: { allowed_writes: boolean; file?: string };
    admin: { host: string; token?: unknown; tls?: RawTls };
  },
  ctx: Ctx,
): SecurityConfig {
  const tls = tlsFiles(raw.tls);
  let auth: AuthnConfig | undefined;
  if (raw.auth !== undefined) {
    const a = raw.auth;
    let jwt: AuthnConfig["jwt"];
    if (a.jwt !== undefined) {
      const j = a.jwt as { jwks_file?: string; jwks_url?: string; issuer?: string; audience?: unknown; algorithms: string[]; clock_skew: number };
      if ((j.jwks_file === undefined) === (j.jwks_url === undefined)) failAt(ctx, ["auth", "jwt"], "needs exactly one of jwks_file or jwks_url");
      if (j.algorithms.length === 0) failAt(ctx, ["auth", "jwt", "algorithms"], "must list at least one algorithm");
      j.algorithms.forEach((alg, i) => {
        if (!(JWT_ALGORITHMS as readonly string[]).includes(alg)) {
          failAt(ctx, ["auth", "jwt", "algorithms", i], `"${alg}" is not accepted (one of ${JWT_ALGORITHMS.join(", ")}; never none)`);
        }
      });
      const aud = j.audience;
      if (aud !== undefined && typeof aud !== "string" && !(Array.isArray(aud) && aud.every((x) => typeof x === "string"))) {
        failAt(ctx, ["auth", "jwt", "audience"], "must be a string or a list of strings");
      }
      if (j.jwks_url !== undefined && !/^https?:\/\//.test(j.jwks_url)) failAt(ctx, ["auth", "jwt", "jwks_url"], "must be an http(s) URL");
      jwt = {
        jwksFile: j.jwks_file,
        jwksUrl: j.jwks_url,
        issuer: j.issuer,
        audience: aud === undefined ? undefined : typeof aud === "string" ? [aud] : (aud as string[]),
        algorithms: j.algorithms,
        clockSkewS: j.clock_skew / 1000,
      };
    }
    if (a.api_keys_file !== undefined && a.api_keys_env !== undefined) failAt(ctx, ["auth", "api_keys_env"], "use api_keys_file or api_keys_env, not both");
    const clientCertificates = tls?.clientCaFile !== undefined;
    if (jwt === undefined && a.api_keys_file === undefined && a.api_keys_env === undefined && !clientCertificates) {
      failAt(ctx, ["auth"], "names no credential: configure jwt, api_keys_file / api_keys_env, or tls.client_ca_file (client certificates)");
    }
    auth = { jwt, apiKeysFile: a.api_keys_file, apiKeysEnv: a.api_keys_env, clientCertificates };
  }
  raw.authz.forEach((r, i) => {
    r.principals.forEach((p, j) => {
      if (!PRINCIPAL_RE.test(p))
        failAt(ctx, ["authz", i, "principals", j], `must be sub:<subject>, claim:<name>=<value>, key:<name>, cert:<CN> or *, got "${p}"`);
    });
    if (r.namespaces.length === 0) failAt(ctx, ["authz", i, "namespaces"], "must list at least one namespace (or *)");
  });
  if (raw.authz.length > 0 && auth === undefined) failAt(ctx, ["authz"], "needs auth: rules match principals, which only authentication provides");
  return {
    tls,
    auth,
    authz: raw.authz.map((r) => ({ principals: r.principals, namespaces: r.namespaces, allow: r.allow })),
    audit: { allowedWrites: raw.audit.allowed_writes, file: raw.audit.file },
    admin: { host: raw.admin.host, token: secretValue(raw.admin.token, ctx, ["admin", "token"]), tls: tlsFiles(raw.admin.tls) },
  };
}

/** The remote-pattern security of one namespace entry. */
export function parseRemoteSecurity(
  ns: { address?: string; tls?: { ca_file?: string; cert_file?: string; key_file?: string; server_name?: string } },
  ctx: Ctx,
  path: Path,
): RemoteSecurity | undefined {
  if (ns.tls === undefined) return undefined;
  if (ns.address === undefined)
    failAt(ctx, [...path, "tls"], "applies to remote patterns (address:) only; launched patterns are reached over a private Unix socket");
  const t = ns.tls;
  if (t !== undefined && (t.cert_file === undefined) !== (t.key_file === undefined)) failAt(ctx, [...path, "tls"], "cert_file and key_file go together");
  return { tls: { caFile: t.ca_file, certFile: t.cert_file, keyFile: t.key_file, serverName: t.server_name } };
}
