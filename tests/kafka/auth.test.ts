/**
 * The Kafka pattern against a SASL_SSL listener (issue 11): a broker of this test's
 * own with PLAIN and SCRAM-SHA-512 users and a certificate from a test CA; the
 * passwords are read from files and never printed.
 */
import { afterAll, beforeAll, describe, expect, test, setDefaultTimeout } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { PubSubBasicInterface } from "../../proto/gen/prism/interfaces/pubsub/pubsub_basic_pb";
import { StreamBasicInterface } from "../../proto/gen/prism/interfaces/stream/stream_basic_pb";
import { createClient } from "../../sdk/grpc/client";
import { Code } from "../../sdk/grpc/errors";
import { configuredPattern, type ConfiguredPattern } from "../helpers/process";
import { codeOf } from "../security/clients";
import { makePki, type Pki } from "../security/pki";
import { startKafkaBroker, type DedicatedKafka } from "./broker";
import { testConfig, uniqueNamespace } from "./target";

// Processes start and stop here; a loaded 2-core machine can take seconds for that.
setDefaultTimeout(30_000);

let pki: Pki;
let broker: DedicatedKafka;
const PLAIN_PW = "kafka-plain-pw-3e1d0a";
const SCRAM_PW = "kafka-scram-pw-8c2b47";
const stops: (() => Promise<unknown>)[] = [];

beforeAll(async () => {
  pki = makePki();
  pki.issue("kafka", "localhost");
  writeFileSync(pki.path("kafka-keystore.pem"), readFileSync(pki.path("kafka.key"), "utf8") + readFileSync(pki.path("kafka.crt"), "utf8"));
  writeFileSync(pki.path("plain-password"), `${PLAIN_PW}\n`);
  writeFileSync(pki.path("scram-password"), `${SCRAM_PW}\n`);
  writeFileSync(pki.path("wrong-password"), "kafka-wrong-pw-000111\n");
  broker = await startKafkaBroker({
    secured: {
      keystorePem: pki.path("kafka-keystore.pem"),
      caPem: pki.path("ca.crt"),
      plainUsers: { "prism-plain": PLAIN_PW },
      scramUsers: { "prism-scram": SCRAM_PW },
    },
  });
}, 120_000);

afterAll(async () => {
  for (const s of stops.reverse()) await s().catch(() => undefined);
  await broker?.close();
  pki?.cleanup();
});

async function pattern(extra: Record<string, unknown>): Promise<ConfiguredPattern> {
  const p = await configuredPattern("kafka", { ...testConfig(broker.securedBrokers, uniqueNamespace("auth")), ...extra });
  stops.push(() => p.close());
  return p;
}

async function publishAndAppend(p: ConfiguredPattern): Promise<[number, number]> {
  const ps = createClient(PubSubBasicInterface, p.address);
  const st = createClient(StreamBasicInterface, ps.raw);
  stops.push(async () => ps.close());
  const pub = await codeOf(() => ps.client.publish({ topic: "t", payload: new Uint8Array([1]) }, { timeoutMs: 20_000 }));
  const app = await codeOf(() => st.client.append({ stream: "s", payload: new Uint8Array([2]) }, { timeoutMs: 20_000 }));
  return [pub, app];
}

describe("Kafka SASL_SSL", () => {
  const ssl = () => ({ ca_file: pki.path("ca.crt") });

  test("SASL PLAIN over TLS, password from a file", async () => {
    const p = await pattern({ ssl: ssl(), sasl: { mechanism: "plain", username: "prism-plain", password: { file: pki.path("plain-password") } } });
    expect(await publishAndAppend(p)).toEqual([0, 0]);
    expect(p.output()).not.toContain(PLAIN_PW);
  }, 60_000);

  test("SCRAM-SHA-512 over TLS, password from a file", async () => {
    const p = await pattern({ ssl: ssl(), sasl: { mechanism: "scram-sha-512", username: "prism-scram", password: { file: pki.path("scram-password") } } });
    expect(await publishAndAppend(p)).toEqual([0, 0]);
    expect(p.output()).not.toContain(SCRAM_PW);
  }, 60_000);

  test("a wrong password is UNAVAILABLE and never printed", async () => {
    const p = await pattern({ ssl: ssl(), sasl: { mechanism: "scram-sha-512", username: "prism-scram", password: { file: pki.path("wrong-password") } } });
    const [pub] = await publishAndAppend(p);
    expect(pub).toBe(Code.UNAVAILABLE);
    expect(p.output()).not.toContain("kafka-wrong-pw-000111");
  }, 60_000);
});
