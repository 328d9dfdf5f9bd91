/**
 * The proxy + memstore of the memstore-proxy row, secured (issue 11): "tls" serves the client listener over
 * TLS (certificates from a CA made here); "auth" keeps it plaintext and turns on authentication (an API key
 * stored hashed) and authorization (one rule granting read and write on the namespace). prism-load gets the
 * CA or the key through Server.loadArgs.
 */
import { writeFileSync } from "node:fs";
import { hashApiKey } from "../proxy/security/authn";
import { makePki } from "../tests/security/pki";
import { startProxy, type Server } from "./processes";

export async function startSecuredProxy(kind: "tls" | "auth"): Promise<Server> {
  const pki = makePki();
  const key = "bench-api-key-6f0c3d9e21";
  let security: string;
  let loadArgs: string[];
  if (kind === "tls") {
    pki.issue("server", "localhost");
    security = `tls: { cert_file: ${pki.path("server.crt")}, key_file: ${pki.path("server.key")} }\n`;
    loadArgs = ["--tls-ca", pki.path("ca.crt")];
  } else {
    writeFileSync(pki.path("keys"), `bench: sha256:${hashApiKey(key)}\n`);
    security = `auth: { api_keys_file: ${pki.path("keys")} }\nauthz: [{ principals: ["key:bench"], namespaces: [default], allow: [read, write] }]\n`;
    loadArgs = ["--metadata", `x-api-key=${key}`];
  }
  const config = pki.path("proxy.yaml");
  writeFileSync(config, `listen: 127.0.0.1:0\nadmin: { port: 0 }\npatterns_dir: ./dist\n${security}namespaces:\n  - { name: default, pattern: memstore }\n`);
  try {
    const server = await startProxy("memstore", { config });
    return {
      ...server,
      loadArgs,
      stop: async () => {
        await server.stop();
        pki.cleanup();
      },
    };
  } catch (err) {
    pki.cleanup();
    throw err;
  }
}
