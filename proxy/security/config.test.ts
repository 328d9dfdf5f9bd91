import { describe, expect, test } from "bun:test";
import { redact } from "../../sdk/config/secrets";
import { parseYaml } from "../../sdk/config/yaml";
import { parseProxyConfig } from "../config";

const parse = (text: string) => parseProxyConfig(parseYaml(`${text}\nnamespaces: [{ name: a, pattern: memstore }]\n`, "proxy.yaml"), { patternsDir: "/opt" });
const errorOf = (text: string): string => {
  try {
    parse(text);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error("no error");
};

describe("security config (contract §4 keys)", () => {
  test("the full shape parses", () => {
    process.env.PRISM_T_ADMIN_TOKEN = "admin-token-from-env-77";
    const c = parse(`
tls: { cert_file: s.crt, key_file: s.key, client_ca_file: ca.crt }
auth:
  jwt: { jwks_url: "https://idp.test/jwks.json", issuer: "https://idp.test", audience: [prism, other], algorithms: [RS256, ES256] }
  api_keys_file: keys.txt
authz:
  - { principals: ["sub:alice", "claim:groups=ops", "key:job", "cert:svc", "*"], namespaces: ["*", "team-*"], allow: [read, write, admin] }
audit: { allowed_writes: true }
admin: { port: 0, token: { env: PRISM_T_ADMIN_TOKEN } }`).security;
    expect(c.tls).toEqual({ certFile: "s.crt", keyFile: "s.key", clientCaFile: "ca.crt" });
    expect(c.auth).toEqual({
      jwt: {
        jwksUrl: "https://idp.test/jwks.json",
        jwksFile: undefined,
        issuer: "https://idp.test",
        audience: ["prism", "other"],
        algorithms: ["RS256", "ES256"],
        clockSkewS: 30,
      },
      apiKeysFile: "keys.txt",
      apiKeysEnv: undefined,
      clientCertificates: true,
    });
    expect(c.admin).toEqual({ host: "127.0.0.1", token: "admin-token-from-env-77", tls: undefined });
    expect(redact("token admin-token-from-env-77")).toBe("token [redacted]");
    expect(c.audit).toEqual({ allowedWrites: true, file: undefined });
  });

  test("never alg none, never HMAC; exactly one key source; rules need auth; principals have a kind", () => {
    expect(errorOf("auth: { jwt: { jwks_file: j, algorithms: [none] } }")).toBe(
      'proxy.yaml:1: auth.jwt.algorithms[0]: "none" is not accepted (one of RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA, Ed25519; never none)',
    );
    expect(errorOf("auth: { jwt: { jwks_file: j, algorithms: [HS256] } }")).toContain('"HS256" is not accepted');
    expect(errorOf("auth: { jwt: { jwks_file: j, jwks_url: 'https://x', algorithms: [ES256] } }")).toContain(
      "auth.jwt: needs exactly one of jwks_file or jwks_url",
    );
    expect(errorOf("auth: { jwt: { jwks_file: j, algorithms: [] } }")).toContain("must list at least one algorithm");
    expect(errorOf("authz: [{ principals: ['sub:a'], namespaces: [a], allow: [read] }]")).toContain("authz: needs auth");
    expect(errorOf("auth: { api_keys_file: k }\nauthz: [{ principals: [alice], namespaces: [a], allow: [read] }]")).toContain(
      "authz[0].principals[0]: must be sub:<subject>, claim:<name>=<value>, key:<name>, cert:<CN> or *",
    );
    expect(errorOf("auth: { api_keys_file: k }\nauthz: [{ principals: ['*'], namespaces: [a], allow: [delete] }]")).toContain(
      "must be one of read, write, admin",
    );
    expect(errorOf("auth: {}")).toContain("auth: names no credential");
    expect(errorOf("admin: { port: 0, token: { env: PRISM_T_UNSET_TOKEN } }")).toBe(
      "proxy.yaml:1: admin.token: environment variable PRISM_T_UNSET_TOKEN is not set",
    );
  });

  test("tls on a namespace applies to remote patterns only", () => {
    const c = parseProxyConfig(
      parseYaml("namespaces: [{ name: r, address: 'db:50051', tls: { ca_file: ca.crt, cert_file: c.crt, key_file: c.key, server_name: db } }]", "p.yaml"),
      { patternsDir: "/opt" },
    );
    expect(c.namespaces[0]!.remote).toEqual({ tls: { caFile: "ca.crt", certFile: "c.crt", keyFile: "c.key", serverName: "db" } });
    expect(() =>
      parseProxyConfig(parseYaml("namespaces: [{ name: l, pattern: memstore, tls: { ca_file: ca.crt } }]", "p.yaml"), { patternsDir: "/opt" }),
    ).toThrow("namespaces[0].tls: applies to remote patterns (address:) only");
  });
});
