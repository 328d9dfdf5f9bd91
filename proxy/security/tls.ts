import { readFileSync, unwatchFile, watchFile } from "node:fs";
import tls from "node:tls";
import { type Logger } from "@prism/sdk";

/** Certificate files of a TLS server (contract §4 `tls:`); clientCaFile set = client certificates required (mTLS). */
export interface TlsServerFiles {
  readonly certFile: string;
  readonly keyFile: string;
  readonly clientCaFile?: string;
}

/** Certificate files of a TLS client (the proxy dialing a remote pattern). */
export interface TlsClientFiles {
  /** CA that signed the server's certificate; absent = the system's roots. */
  readonly caFile?: string;
  /** Client certificate and key, for servers that require them (mTLS). */
  readonly certFile?: string;
  readonly keyFile?: string;
  /** Name checked against the server's certificate (default: the host dialed). */
  readonly serverName?: string;
}

export interface TlsMaterial {
  cert: Buffer;
  key: Buffer;
  ca?: Buffer;
}

/** Reads the files and checks they form a usable context (a bad key or a cert/key mismatch throws here, not at the first handshake). */
export function readServerTls(files: TlsServerFiles): TlsMaterial {
  const m: TlsMaterial = { cert: readFileSync(files.certFile), key: readFileSync(files.keyFile) };
  if (files.clientCaFile) m.ca = readFileSync(files.clientCaFile);
  tls.createSecureContext(m);
  return m;
}

/** Options for tls.connect / http2.connect from client files. */
export function readClientTls(files: TlsClientFiles): tls.ConnectionOptions {
  const o: tls.ConnectionOptions = {};
  if (files.caFile) o.ca = readFileSync(files.caFile);
  if (files.certFile) o.cert = readFileSync(files.certFile);
  if (files.keyFile) o.key = readFileSync(files.keyFile);
  if (files.serverName) o.servername = files.serverName;
  return o;
}

/**
 * Polls the certificate files (renewals often replace them by rename, which
 * inotify-style watches lose) and calls apply with the new material when one
 * changes and the set is valid; a broken set is logged and the old one kept.
 * Returns a function that stops watching.
 */
export function watchServerTls(files: TlsServerFiles, apply: (m: TlsMaterial) => void, logger: Logger, intervalMs = 1_000): () => void {
  const paths = [files.certFile, files.keyFile, ...(files.clientCaFile ? [files.clientCaFile] : [])];
  let timer: ReturnType<typeof setTimeout> | undefined;
  const reload = () => {
    // Cert and key are often written one after the other: wait for the pair to settle.
    clearTimeout(timer);
    timer = setTimeout(() => {
      try {
        apply(readServerTls(files));
        logger.info("TLS certificates reloaded", { cert_file: files.certFile });
      } catch (err) {
        logger.warn("TLS certificate files changed but do not form a usable set; keeping the previous ones", { err, cert_file: files.certFile });
      }
    }, 100);
    timer.unref?.();
  };
  for (const p of paths)
    watchFile(p, { interval: intervalMs, persistent: false }, (cur, prev) => {
      if (cur.mtimeMs !== prev.mtimeMs || cur.ino !== prev.ino || cur.size !== prev.size) reload();
    });
  return () => {
    clearTimeout(timer);
    for (const p of paths) unwatchFile(p);
  };
}

/** The subject CN of the verified client certificate of a TLS socket, if any. */
export function peerCertificateCN(socket: unknown): string | undefined {
  const s = socket as { authorized?: boolean; getPeerCertificate?: () => { subject?: { CN?: string | string[] } } | null };
  if (s?.authorized !== true || typeof s.getPeerCertificate !== "function") return undefined;
  const cn = s.getPeerCertificate()?.subject?.CN;
  return Array.isArray(cn) ? cn[0] : cn || undefined;
}

/** True for addresses only this machine can reach. */
export function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  return h === "localhost" || h === "::1" || /^127\./.test(h) || h.startsWith("unix:");
}
