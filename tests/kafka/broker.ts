/**
 * A single-node Kafka (KRaft) of a test's own, on free loopback ports with its own data directory, run from
 * the jars scripts/services/kafka.sh fetched. It can be stopped and started again without disturbing the
 * shared broker on 9092. Starting a JVM broker takes a few seconds: use one per test file at most.
 */
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { Kafka, logLevel } from "kafkajs";
import { startProcess, type StartedProcess } from "../helpers/process";
import { freePort } from "../nats/server";

/** Where scripts/services/kafka.sh keeps the Kafka jars. */
export function kafkaLibs(): string {
  const version = process.env.PRISM_KAFKA_VERSION ?? "3.9.2";
  const cache = process.env.PRISM_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "prism");
  const libs = join(cache, `kafka-${version}`, "libs");
  if (!existsSync(join(libs, ".complete")))
    throw new Error(`Kafka jars not found in ${libs}: run \`make services\` (scripts/services/up.sh kafka fetches them)`);
  return libs;
}

/** A second listener, SASL_SSL (PLAIN and SCRAM-SHA-512 users), with PEM certificate files. */
export interface SecuredListener {
  /** PEM file holding the broker's private key (PKCS#8) followed by its certificate chain. */
  keystorePem: string;
  /** PEM file of the CA that clients' certificates would chain to (also the truststore). */
  caPem: string;
  plainUsers: Record<string, string>;
  scramUsers: Record<string, string>;
}

export interface DedicatedKafka {
  readonly brokers: string[];
  /** host:port of the SASL_SSL listener (host "localhost", the name in its certificate), when asked for. */
  readonly securedBrokers: string[];
  /** Kills the broker (SIGKILL: an abrupt loss); its data stays. */
  stop(): Promise<void>;
  /** Starts it again with the same ports and data; resolves once it answers metadata requests. */
  start(): Promise<void>;
  /** Stops it and removes its data. */
  close(): Promise<void>;
  /** SIGSTOP / SIGCONT: it keeps its connections but stops answering (a hung server). */
  pause(): void;
  resume(): void;
}

const JVM_OPTS = ["-Xms128m", "-Xmx384m", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20", "-XX:TieredStopAtLevel=1", "-Djava.awt.headless=true"];

/** Formats a fresh KRaft log directory and starts a broker on it. */
export async function startKafkaBroker(opts: { secured?: SecuredListener } = {}): Promise<DedicatedKafka> {
  // The free ports are picked before the JVM binds them: with suites running side by side another process may take
  // one in between ("Address already in use"); then try again on new ports.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startKafkaBrokerOnce(opts);
    } catch (err) {
      if (attempt >= 3 || !String((err as Error).message).includes("Address already in use")) throw err;
    }
  }
}

async function startKafkaBrokerOnce(opts: { secured?: SecuredListener }): Promise<DedicatedKafka> {
  const libs = kafkaLibs();
  const dir = mkdtempSync(join(tmpdir(), "prism-kafka-"));
  mkdirSync(join(dir, "logs"));
  const [port, controllerPort] = [await freePort(), await freePort()];
  const sec = opts.secured;
  const securedPort = sec ? await freePort() : 0;
  const jaasPlain = sec
    ? `org.apache.kafka.common.security.plain.PlainLoginModule required ${Object.entries(sec.plainUsers)
        .map(([u, pw]) => `user_${u}="${pw}"`)
        .join(" ")};`
    : "";
  const securedProps = sec
    ? [
        "sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-512",
        `listener.name.sasl_ssl.plain.sasl.jaas.config=${jaasPlain}`,
        "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;",
        "ssl.keystore.type=PEM",
        `ssl.keystore.location=${sec.keystorePem}`,
        "ssl.truststore.type=PEM",
        `ssl.truststore.location=${sec.caPem}`,
        "ssl.client.auth=none",
      ]
    : [];
  const props = join(dir, "server.properties");
  writeFileSync(
    props,
    [
      "process.roles=broker,controller",
      "node.id=1",
      `controller.quorum.voters=1@127.0.0.1:${controllerPort}`,
      `listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${controllerPort}${sec ? `,SASL_SSL://127.0.0.1:${securedPort}` : ""}`,
      `advertised.listeners=PLAINTEXT://127.0.0.1:${port}${sec ? `,SASL_SSL://localhost:${securedPort}` : ""}`,
      "inter.broker.listener.name=PLAINTEXT",
      "controller.listener.names=CONTROLLER",
      `listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT${sec ? ",SASL_SSL:SASL_SSL" : ""}`,
      ...securedProps,
      `log.dirs=${join(dir, "data")}`,
      "num.partitions=1",
      "offsets.topic.replication.factor=1",
      "offsets.topic.num.partitions=3",
      "transaction.state.log.replication.factor=1",
      "transaction.state.log.min.isr=1",
      "group.initial.rebalance.delay.ms=0",
      "num.network.threads=1",
      "num.io.threads=2",
      "num.recovery.threads.per.data.dir=1",
      "",
    ].join("\n"),
  );
  // Warnings only: the test keeps the broker's output in memory for error messages.
  const log4j = join(dir, "log4j.properties");
  writeFileSync(
    log4j,
    "log4j.rootLogger=WARN, stdout\nlog4j.appender.stdout=org.apache.log4j.ConsoleAppender\nlog4j.appender.stdout.layout=org.apache.log4j.PatternLayout\nlog4j.appender.stdout.layout.ConversionPattern=[%d] %p %m (%c)%n\n",
  );
  const java = (args: string[]) => [
    "java",
    ...JVM_OPTS,
    `-Dlog4j.configuration=file:${log4j}`,
    `-Dkafka.logs.dir=${join(dir, "logs")}`,
    "-cp",
    `${libs}/*`,
    ...args,
  ];
  // "=" form: a base64url id may start with "-", which argparse would take for a flag.
  const clusterId = randomBytes(16).toString("base64url");
  // SCRAM credentials live in the cluster metadata: written at format time (KRaft).
  const scram = Object.entries(sec?.scramUsers ?? {}).flatMap(([u, pw]) => ["--add-scram", `SCRAM-SHA-512=[name=${u},password=${pw}]`]);
  const format = startProcess(java(["kafka.tools.StorageTool", "format", `--cluster-id=${clusterId}`, "-c", props, "--ignore-formatted", ...scram]));
  const formatted = await format.exited;
  if (formatted !== 0) throw new Error(`kafka storage format failed (${formatted}):\n${format.output()}`);

  const brokers = [`127.0.0.1:${port}`];
  let proc: StartedProcess | undefined;
  const start = async () => {
    proc = startProcess(java(["kafka.Kafka", props]));
    await waitForBroker(brokers, proc, 90_000);
  };
  const stop = async () => {
    const p = proc;
    proc = undefined;
    if (!p) return;
    p.proc.kill("SIGKILL");
    await p.exited;
  };
  try {
    await start();
  } catch (err) {
    await stop();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    brokers,
    securedBrokers: sec ? [`localhost:${securedPort}`] : [],
    stop,
    start,
    pause: () => void proc?.proc.kill("SIGSTOP"),
    resume: () => void proc?.proc.kill("SIGCONT"),
    close: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Polls until the broker answers a metadata request (or its process exits / the bound passes). */
async function waitForBroker(brokers: string[], proc: StartedProcess, timeoutMs: number): Promise<void> {
  const kafka = new Kafka({
    brokers,
    clientId: "prism-test-wait",
    logLevel: logLevel.NOTHING,
    connectionTimeout: 500,
    requestTimeout: 2000,
    retry: { retries: 0 },
  });
  const deadline = Date.now() + timeoutMs;
  let exited = false;
  void proc.exited.then(() => (exited = true));
  for (;;) {
    if (exited) throw new Error(`kafka broker exited during startup:\n${proc.output().slice(-4000)}`);
    const admin = kafka.admin();
    try {
      await admin.connect();
      const c = await admin.describeCluster();
      // A group coordinator lookup creates __consumer_offsets on a fresh broker: done here, the first
      // consumer group of a test joins at once instead of waiting out "coordinator not available".
      if (c.brokers.length > 0 && c.controller !== null) {
        await admin.describeGroups(["prism-test-warmup"]);
        return;
      }
    } catch {
      // not up yet
    } finally {
      await admin.disconnect().catch(() => undefined);
    }
    if (Date.now() > deadline) throw new Error(`kafka broker not ready after ${timeoutMs} ms:\n${proc.output().slice(-4000)}`);
    await Bun.sleep(250);
  }
}
