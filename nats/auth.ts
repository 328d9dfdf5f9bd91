import { readFileSync } from "node:fs";
import { credsAuthenticator, nkeyAuthenticator, type ConnectionOptions } from "nats";
import type { NatsConfig } from "./config";

/**
 * Connection options for a secured NATS server (issue 11): user + password, a
 * token, an NKey seed, or a creds file (JWT + seed) — the secrets themselves may
 * come from {file} / {env} (resolved before this) — and TLS with a CA and, for
 * servers that verify clients, a client certificate.
 */
export function natsAuthOptions(cfg: NatsConfig): Partial<ConnectionOptions> {
  const o: Partial<ConnectionOptions> = {};
  if (cfg.user !== undefined) {
    o.user = cfg.user;
    o.pass = cfg.password;
  }
  if (cfg.token !== undefined) o.token = cfg.token;
  if (cfg.nkey_seed !== undefined) o.authenticator = nkeyAuthenticator(new TextEncoder().encode(cfg.nkey_seed.trim()));
  if (cfg.creds_file !== undefined) o.authenticator = credsAuthenticator(readFileSync(cfg.creds_file));
  if (cfg.tls !== undefined) {
    o.tls = {
      ...(cfg.tls.ca_file !== undefined && { caFile: cfg.tls.ca_file }),
      ...(cfg.tls.cert_file !== undefined && { certFile: cfg.tls.cert_file }),
      ...(cfg.tls.key_file !== undefined && { keyFile: cfg.tls.key_file }),
    };
  }
  return o;
}
