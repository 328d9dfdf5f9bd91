/**
 * The NATS pattern against secured servers started here (issue 11): TLS with a
 * test CA plus user/password and NKey users, and a token server; every secret
 * read from a file, none printed. (Creds files need an operator-mode server set
 * up with nsc; the option is wired — nats.js credsAuthenticator — but not tested here.)
 */
import { afterAll, beforeAll, describe, expect, test, setDefaultTimeout } from "bun:test";
import { writeFileSync } from "node:fs";
import { nkeys } from "nats";
import { PubSubBasicInterface } from "../../proto/gen/prism/interfaces/pubsub/pubsub_basic_pb";
import { StreamBasicInterface } from "../../proto/gen/prism/interfaces/stream/stream_basic_pb";
import { createClient } from "../../sdk/grpc/client";
import { Code } from "../../sdk/grpc/errors";
import { configuredPattern, type ConfiguredPattern } from "../helpers/process";
import { codeOf } from "../security/clients";
import { makePki, type Pki } from "../security/pki";
import { startNatsServer, type DedicatedNats } from "./server";

// Processes start and stop here; a loaded 2-core machine can take seconds for that.
setDefaultTimeout(30_000);

let pki: Pki;
let secured: DedicatedNats;
let tokenServer: DedicatedNats;
const PASSWORD = "nats-pw-from-file-4e7d21";
const TOKEN = "nats-token-from-env-9b3c55";
const user = nkeys.createUser();
const seed = new TextDecoder().decode(user.getSeed());
const stops: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  pki = makePki();
  pki.issue("nats", "localhost");
  writeFileSync(pki.path("nats-password"), `${PASSWORD}\n`);
  writeFileSync(pki.path("nats-seed"), `${seed}\n`);
  secured = await startNatsServer({
    extraConf: `tls {\n  cert_file: "${pki.path("nats.crt")}"\n  key_file: "${pki.path("nats.key")}"\n  ca_file: "${pki.path("ca.crt")}"\n}\nauthorization {\n  users = [\n    { user: prism, password: "${PASSWORD}" }\n    { nkey: ${user.getPublicKey()} }\n  ]\n}\n`,
  });
  tokenServer = await startNatsServer({ extraConf: `authorization {\n  token: "${TOKEN}"\n}\n` });
});

afterAll(async () => {
  for (const s of stops.reverse()) await s().catch(() => undefined);
  await secured?.close();
  await tokenServer?.close();
  pki?.cleanup();
});

async function pattern(config: Record<string, unknown>): Promise<ConfiguredPattern> {
  const p = await configuredPattern("nats", { namespace: `auth-${Math.random().toString(36).slice(2, 8)}`, connect_timeout: "1s", ...config });
  stops.push(() => p.close());
  return p;
}

async function publishes(p: ConfiguredPattern): Promise<number> {
  const ps = createClient(PubSubBasicInterface, p.address);
  stops.push(async () => ps.close());
  return codeOf(() => ps.client.publish({ topic: "t", payload: new Uint8Array([1]) }, { timeoutMs: 5_000 }));
}

describe("secured NATS", () => {
  test("TLS + user/password from a file: publish and a JetStream append work; the password is never printed", async () => {
    const p = await pattern({
      url: `tls://127.0.0.1:${secured.port}`,
      user: "prism",
      password: { file: pki.path("nats-password") },
      tls: { ca_file: pki.path("ca.crt") },
    });
    expect(await publishes(p)).toBe(0);
    const st = createClient(StreamBasicInterface, p.address);
    stops.push(async () => st.close());
    expect(await codeOf(() => st.client.append({ stream: "s", payload: new Uint8Array([2]) }, { timeoutMs: 10_000 }))).toBe(0);
    expect(p.output()).not.toContain(PASSWORD);
  });

  test("TLS + an NKey seed from a file", async () => {
    const p = await pattern({ url: `tls://127.0.0.1:${secured.port}`, nkey_seed: { file: pki.path("nats-seed") }, tls: { ca_file: pki.path("ca.crt") } });
    expect(await publishes(p)).toBe(0);
    expect(p.output()).not.toContain(seed);
  });

  test("a token from the environment", async () => {
    process.env.PRISM_TEST_NATS_TOKEN = TOKEN;
    const p = await pattern({ url: tokenServer.url, token: { env: "PRISM_TEST_NATS_TOKEN" } });
    expect(await publishes(p)).toBe(0);
    expect(p.output()).not.toContain(TOKEN);
  });

  test("a wrong password or no TLS CA: calls UNAVAILABLE, the secret not in the output", async () => {
    writeFileSync(pki.path("wrong-password"), "wrong-nats-pw-7a7a7a\n");
    const wrong = await pattern({
      url: `tls://127.0.0.1:${secured.port}`,
      user: "prism",
      password: { file: pki.path("wrong-password") },
      tls: { ca_file: pki.path("ca.crt") },
    });
    expect(await publishes(wrong)).toBe(Code.UNAVAILABLE);
    expect(wrong.output()).not.toContain("wrong-nats-pw-7a7a7a");
    const noCa = await pattern({ url: `tls://127.0.0.1:${secured.port}`, user: "prism", password: { file: pki.path("nats-password") } });
    expect(await publishes(noCa)).toBe(Code.UNAVAILABLE);
  });
});
