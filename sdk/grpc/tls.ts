import * as grpc from "@grpc/grpc-js";

/** TLS files of a gRPC server (a pattern run on its own); clientCaFile = client certificates required. */
export interface ServerTlsFiles {
  readonly certFile: string;
  readonly keyFile: string;
  readonly clientCaFile?: string;
}

/**
 * Server credentials: insecure without files; otherwise TLS whose certificate,
 * key and client CA are re-read from disk when they change (grpc-js file watcher,
 * checked every refreshMs), so a renewed certificate applies to new connections
 * without a restart.
 */
export function serverCredentials(tls?: ServerTlsFiles, refreshMs = 5_000): grpc.ServerCredentials {
  if (!tls) return grpc.ServerCredentials.createInsecure();
  const identity = new grpc.experimental.FileWatcherCertificateProvider({
    certificateFile: tls.certFile,
    privateKeyFile: tls.keyFile,
    refreshIntervalMs: refreshMs,
  });
  const ca = tls.clientCaFile
    ? new grpc.experimental.FileWatcherCertificateProvider({ caCertificateFile: tls.clientCaFile, refreshIntervalMs: refreshMs })
    : null;
  // grpc-js's factory takes the identity provider first, then the CA provider (its parameter names say otherwise).
  return grpc.experimental.createCertificateProviderServerCredentials(identity, ca, ca !== null);
}
