import { ConfigError, type Logger, type HttpSecurity } from "@prism/sdk";
import type { HostPort } from "../address";
import type { ProxyConfig } from "../config";
import type { ProxyMetrics } from "../metrics";
import { AuditLog } from "./audit";
import { Authenticator } from "./authn";
import { Authorizer } from "./authz";
import type { SecurityConfig } from "./config";
import { SecurityGate } from "./gate";
import { isLoopback, readServerTls, watchServerTls, type TlsMaterial } from "./tls";

/** The proxy's security parts, built from its config: what the listener, router and admin server need. */
export class ProxySecurity {
  readonly audit: AuditLog;
  readonly gate: SecurityGate | undefined;
  /** Certificates of the client listener (undefined = plaintext h2c). */
  readonly listenerTls: TlsMaterial | undefined;
  readonly admin: HttpSecurity;
  private readonly authn: Authenticator | undefined;
  private readonly stops: (() => void)[] = [];

  private readonly cfg: SecurityConfig;

  constructor(
    proxyCfg: ProxyConfig,
    metrics: ProxyMetrics,
    private readonly logger: Logger,
  ) {
    const cfg = (this.cfg = proxyCfg.security);
    // Unreadable or mismatched certificate files stop start-up with the key that names them.
    const files = (key: string[], read: () => TlsMaterial): TlsMaterial => {
      try {
        return read();
      } catch (err) {
        throw new ConfigError(proxyCfg.file, key.join("."), proxyCfg.lineOf(key), `cannot use the certificate files: ${(err as Error).message}`);
      }
    };
    this.audit = new AuditLog(cfg.audit);
    this.listenerTls = cfg.tls && files(["tls"], () => readServerTls(cfg.tls!));
    if (cfg.auth) {
      try {
        this.authn = new Authenticator(cfg.auth, logger.child({ component: "auth" }));
      } catch (err) {
        throw new ConfigError(proxyCfg.file, "auth", proxyCfg.lineOf(["auth"]), `cannot load credentials: ${(err as Error).message}`);
      }
      this.gate = new SecurityGate(
        this.authn,
        new Authorizer(cfg.authz),
        this.audit,
        metrics,
        proxyCfg.namespaces.map((ns) => ns.name),
      );
    }
    const adminTls = cfg.admin.tls && files(["admin", "tls"], () => readServerTls(cfg.admin.tls!));
    this.admin = { token: cfg.admin.token, tls: adminTls && { cert: adminTls.cert, key: adminTls.key } };
  }

  /** Start-up warnings an operator must see, and certificate reloads into the listener. */
  started(listen: HostPort, setListenerTls: (m: TlsMaterial) => void): void {
    if (this.cfg.tls) this.stops.push(watchServerTls(this.cfg.tls, setListenerTls, this.logger));
    else if (!isLoopback(listen.host)) {
      this.logger.warn("the client listener is plaintext on a non-loopback address: traffic and credentials cross the network unencrypted; configure tls", {
        listen: `${listen.host}:${listen.port}`,
      });
    }
    if (!this.cfg.auth && !isLoopback(listen.host)) {
      this.logger.warn("authentication is off: anyone who reaches the listener can read and write every namespace; configure auth and authz");
    }
    if (this.cfg.auth && this.cfg.authz.length === 0) this.logger.warn("auth is on but authz has no rules: every call is denied");
    if (!isLoopback(this.cfg.admin.host) && this.cfg.admin.token === undefined) {
      this.logger.warn("the admin port listens beyond loopback without a token: /metrics and /patterns are open", { host: this.cfg.admin.host });
    }
  }

  close(): void {
    for (const s of this.stops.splice(0)) s();
    this.authn?.close();
    this.audit.close();
  }
}
