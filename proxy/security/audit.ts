import { createWriteStream, type WriteStream } from "node:fs";
import { redact } from "@prism/sdk";

/** One audited decision (issue 11): never a payload or a credential. */
export interface AuditEvent {
  decision: "allow" | "deny" | "unauthenticated";
  principal: string;
  namespace: string;
  method: string;
  operation?: string;
  peer: string;
  /** Why (denials only; authentication failures say what was wrong with the credential, not the credential). */
  reason?: string;
}

/** Audit settings (`audit:` in the proxy config). */
export interface AuditConfig {
  /** Also record allowed write and admin calls (denials are always recorded). */
  readonly allowedWrites: boolean;
  /** Append lines here instead of the proxy's stderr. */
  readonly file?: string;
}

/**
 * Writes one JSON line per audited decision: `{"time","audit":"prism","decision",
 * "principal","namespace","method","operation","peer","reason"}`, to a file or to
 * stderr beside the proxy's logs (grep `"audit":"prism"`).
 */
export class AuditLog {
  private readonly out: WriteStream | undefined;
  private readonly write: (line: string) => void;

  constructor(
    readonly cfg: AuditConfig,
    write?: (line: string) => void,
  ) {
    if (write) this.write = write;
    else if (cfg.file) {
      const out = createWriteStream(cfg.file, { flags: "a", mode: 0o600 });
      out.on("error", () => undefined);
      this.out = out;
      this.write = (line) => out.write(line + "\n");
    } else this.write = (line) => process.stderr.write(line + "\n");
  }

  record(e: AuditEvent): void {
    this.write(redact(JSON.stringify({ time: new Date().toISOString(), audit: "prism", ...e })));
  }

  close(): void {
    this.out?.end();
  }
}
