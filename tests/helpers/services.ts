/**
 * The one place test suites get real backend endpoints from.
 *
 *   redisUrl()           PRISM_TEST_REDIS_URL      default redis://127.0.0.1:6379
 *   redisClusterSeeds()  PRISM_TEST_REDIS_CLUSTER  default 127.0.0.1:7000,127.0.0.1:7001,127.0.0.1:7002
 *   natsUrl()            PRISM_TEST_NATS_URL       default nats://127.0.0.1:4222
 *   kafkaBrokers()       PRISM_TEST_KAFKA_BROKERS  default 127.0.0.1:9092
 *   postgresUrl()        PRISM_TEST_POSTGRES_URL   default postgres://prism:prism@127.0.0.1:5433/prism
 *
 * `await requireService(name)` opens a plain TCP connection and speaks the
 * service's own protocol (no client library): Redis PING, Redis CLUSTER INFO,
 * NATS INFO/CONNECT/PING with JetStream on, a Kafka Metadata request, a PostgreSQL
 * login (startup, SCRAM-SHA-256 or password, ReadyForQuery). A missing
 * service is an Error telling how to start it, never a silent skip.
 *
 * Tests that take a backend away mid-run start their own server on a free port
 * and stop it by pid, so the shared services are never disturbed.
 */
import net from "node:net";
import tls from "node:tls";

export type ServiceName = "redis" | "redis-cluster" | "nats" | "kafka" | "postgres";

export const SERVICE_NAMES: readonly ServiceName[] = ["redis", "redis-cluster", "nats", "kafka", "postgres"];

interface ServiceSpec {
  env: string;
  fallback: string;
}

const SPECS: Record<ServiceName, ServiceSpec> = {
  redis: { env: "PRISM_TEST_REDIS_URL", fallback: "redis://127.0.0.1:6379" },
  "redis-cluster": {
    env: "PRISM_TEST_REDIS_CLUSTER",
    fallback: "127.0.0.1:7000,127.0.0.1:7001,127.0.0.1:7002",
  },
  nats: { env: "PRISM_TEST_NATS_URL", fallback: "nats://127.0.0.1:4222" },
  kafka: { env: "PRISM_TEST_KAFKA_BROKERS", fallback: "127.0.0.1:9092" },
  postgres: { env: "PRISM_TEST_POSTGRES_URL", fallback: "postgres://prism:prism@127.0.0.1:5433/prism" },
};

/** Per-connection bound of the protocol checks. */
const PROBE_TIMEOUT_MS = 3_000;

// ------------------------------------------------------------------ endpoints

function setting(name: ServiceName): string {
  const value = process.env[SPECS[name].env]?.trim();
  return value ? value : SPECS[name].fallback;
}

function list(value: string): string[] {
  return value
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}

/** Redis URL for a single node, e.g. `redis://127.0.0.1:6379`. */
export function redisUrl(): string {
  return setting("redis");
}

/** Redis Cluster seed nodes as `host:port` strings. */
export function redisClusterSeeds(): string[] {
  return list(setting("redis-cluster"));
}

/** NATS server URL (may be a comma-separated list), e.g. `nats://127.0.0.1:4222`. */
export function natsUrl(): string {
  return setting("nats");
}

/** Kafka bootstrap brokers as `host:port` strings. */
export function kafkaBrokers(): string[] {
  return list(setting("kafka"));
}

/** PostgreSQL URL with credentials and database, e.g. `postgres://prism:prism@127.0.0.1:5433/prism`. */
export function postgresUrl(): string {
  return setting("postgres");
}

interface Endpoint {
  host: string;
  port: number;
  tls: boolean;
  username?: string;
  password?: string;
}

/** Parses `scheme://[user[:pass]@]host[:port]` or `host[:port]` (IPv6 in brackets). */
export function parseEndpoint(text: string, defaultPort: number): Endpoint {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `tcp://${text}`;
  const url = new URL(withScheme);
  const host = url.hostname.replace(/^\[(.*)\]$/, "$1");
  if (!host) throw new Error(`no host in ${JSON.stringify(text)}`);
  return {
    host,
    port: url.port ? Number(url.port) : defaultPort,
    tls: ["rediss:", "tls:"].includes(url.protocol),
    username: url.username ? decodeURIComponent(url.username) : undefined,
    password: url.password ? decodeURIComponent(url.password) : undefined,
  };
}

// ------------------------------------------------------------------ wire

type Parser<T> = (buf: Buffer) => { value: T; used: number } | undefined;

/** A TCP (or TLS) conversation with an overall deadline. */
class Wire {
  private buf = Buffer.alloc(0);
  private failure: Error | undefined;
  private wake: (() => void) | undefined;

  private constructor(
    private readonly socket: net.Socket,
    timeoutMs: number,
  ) {
    const timer = setTimeout(() => this.fail(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    socket.on("data", (chunk: Buffer) => {
      this.buf = Buffer.concat([this.buf, chunk]);
      this.notify();
    });
    socket.on("error", (err) => this.fail(err));
    socket.on("close", () => {
      clearTimeout(timer);
      this.fail(new Error("connection closed by the server"));
    });
  }

  static open(ep: Endpoint, timeoutMs = PROBE_TIMEOUT_MS): Promise<Wire> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => {
        socket.destroy();
        reject(err);
      };
      const socket = ep.tls
        ? tls.connect({ host: ep.host, port: ep.port, servername: ep.host }, () => done())
        : net.connect({ host: ep.host, port: ep.port }, () => done());
      const timer = setTimeout(() => onError(new Error(`connect timed out after ${timeoutMs} ms`)), timeoutMs);
      socket.once("error", onError);
      const done = () => {
        clearTimeout(timer);
        socket.off("error", onError);
        resolve(new Wire(socket, timeoutMs));
      };
    });
  }

  write(data: string | Uint8Array): void {
    this.socket.write(data);
  }

  async read<T>(parse: Parser<T>): Promise<T> {
    for (;;) {
      const got = parse(this.buf);
      if (got) {
        this.buf = this.buf.subarray(got.used);
        return got.value;
      }
      if (this.failure) throw this.failure;
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  close(): void {
    this.socket.destroy();
  }

  private fail(err: Error): void {
    this.failure ??= err;
    this.socket.destroy();
    this.notify();
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}

async function withWire<T>(ep: Endpoint, talk: (wire: Wire) => Promise<T>): Promise<T> {
  const wire = await Wire.open(ep);
  try {
    return await talk(wire);
  } finally {
    wire.close();
  }
}

/** One CRLF-terminated line. */
const line: Parser<string> = (buf) => {
  const end = buf.indexOf("\r\n");
  return end < 0 ? undefined : { value: buf.subarray(0, end).toString("utf8"), used: end + 2 };
};

// ------------------------------------------------------------------ redis

/** One RESP reply: simple string, error (returned as Error), integer or bulk string. */
const respReply: Parser<string | Error> = (buf) => {
  const head = line(buf);
  if (!head) return undefined;
  const kind = head.value[0];
  const rest = head.value.slice(1);
  if (kind === "+" || kind === ":") return { value: rest, used: head.used };
  if (kind === "-") return { value: new Error(rest), used: head.used };
  if (kind === "$") {
    const size = Number(rest);
    if (size < 0) return { value: "", used: head.used };
    if (buf.length < head.used + size + 2) return undefined;
    return { value: buf.subarray(head.used, head.used + size).toString("utf8"), used: head.used + size + 2 };
  }
  throw new Error(`not a Redis reply: ${JSON.stringify(head.value.slice(0, 60))}`);
};

function respCommand(...args: string[]): string {
  return `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join("")}`;
}

async function redisCall(wire: Wire, ...args: string[]): Promise<string> {
  wire.write(respCommand(...args));
  const reply = await wire.read(respReply);
  if (reply instanceof Error) throw new Error(`${args[0]} answered ${reply.message}`);
  return reply;
}

async function redisPing(wire: Wire, ep: Endpoint): Promise<void> {
  if (ep.password !== undefined) {
    await redisCall(wire, "AUTH", ...(ep.username ? [ep.username] : []), ep.password);
  }
  const pong = await redisCall(wire, "PING");
  if (pong !== "PONG") throw new Error(`PING answered ${JSON.stringify(pong)}`);
}

async function checkRedis(): Promise<void> {
  const ep = parseEndpoint(redisUrl(), 6379);
  await withWire(ep, (wire) => redisPing(wire, ep));
}

async function checkRedisCluster(): Promise<void> {
  const seeds = redisClusterSeeds();
  if (seeds.length === 0) throw new Error("no seed nodes given");
  for (const seed of seeds) {
    const ep = parseEndpoint(seed, 6379);
    await withWire(ep, async (wire) => {
      try {
        await redisPing(wire, ep);
        const info = await redisCall(wire, "CLUSTER", "INFO");
        if (!/^cluster_state:ok\r?$/m.test(info)) {
          const state = /^cluster_state:(\w+)/m.exec(info)?.[1] ?? "unknown";
          throw new Error(`cluster_state is ${state}`);
        }
      } catch (err) {
        throw new Error(`${seed}: ${(err as Error).message}`);
      }
    });
  }
}

// ------------------------------------------------------------------ nats

async function checkNats(): Promise<void> {
  const urls = list(natsUrl());
  if (urls.length === 0) throw new Error("no server URL given");
  for (const url of urls) {
    const ep = parseEndpoint(url, 4222);
    // NATS upgrades to TLS after its INFO line: plain TCP is right even for tls://.
    await withWire({ ...ep, tls: false }, async (wire) => {
      const infoLine = await wire.read(line);
      if (!infoLine.startsWith("INFO ")) throw new Error(`not a NATS server (said ${JSON.stringify(infoLine.slice(0, 60))})`);
      const info = JSON.parse(infoLine.slice(5)) as { jetstream?: boolean; tls_required?: boolean };
      if (info.jetstream !== true) throw new Error("NATS answers but JetStream is not enabled (start it with -js)");
      if (info.tls_required) return; // the INFO line is all a plain-TCP probe can check
      const connect: Record<string, unknown> = { verbose: false, pedantic: false, name: "prism-test-probe" };
      if (ep.username !== undefined && ep.password !== undefined) Object.assign(connect, { user: ep.username, pass: ep.password });
      else if (ep.username !== undefined) connect.auth_token = ep.username;
      wire.write(`CONNECT ${JSON.stringify(connect)}\r\nPING\r\n`);
      for (;;) {
        const reply = await wire.read(line);
        if (reply.startsWith("PONG")) return;
        if (reply.startsWith("-ERR")) throw new Error(`NATS said ${reply}`);
      }
    });
  }
}

// ------------------------------------------------------------------ kafka

const KAFKA_METADATA = 3;
const KAFKA_METADATA_VERSION = 4; // served by Kafka 1.0 through 4.x
const KAFKA_MAX_RESPONSE = 16 * 1024 * 1024;

function kafkaMetadataRequest(correlationId: number): Buffer {
  const clientId = Buffer.from("prism-test-probe");
  const body = Buffer.alloc(2 + 2 + 4 + 2 + clientId.length + 4 + 1);
  let o = 0;
  o = body.writeInt16BE(KAFKA_METADATA, o);
  o = body.writeInt16BE(KAFKA_METADATA_VERSION, o);
  o = body.writeInt32BE(correlationId, o);
  o = body.writeInt16BE(clientId.length, o);
  o += clientId.copy(body, o);
  o = body.writeInt32BE(0, o); // topics: empty array = brokers only
  body.writeInt8(0, o); // allow_auto_topic_creation
  const frame = Buffer.alloc(4);
  frame.writeInt32BE(body.length);
  return Buffer.concat([frame, body]);
}

/** One size-prefixed Kafka response frame. */
const kafkaFrame: Parser<Buffer> = (buf) => {
  if (buf.length < 4) return undefined;
  const size = buf.readInt32BE(0);
  if (size < 4 || size > KAFKA_MAX_RESPONSE) throw new Error(`not a Kafka response (frame size ${size})`);
  if (buf.length < 4 + size) return undefined;
  return { value: buf.subarray(4, 4 + size), used: 4 + size };
};

/** Broker addresses from a Metadata v4 response. */
function kafkaBrokersFrom(frame: Buffer, correlationId: number): string[] {
  let o = 0;
  const int16 = () => ((o += 2), frame.readInt16BE(o - 2));
  const int32 = () => ((o += 4), frame.readInt32BE(o - 4));
  const str = () => {
    const n = int16();
    if (n < 0) return null;
    o += n;
    return frame.subarray(o - n, o).toString("utf8");
  };
  if (int32() !== correlationId) throw new Error("Kafka response has the wrong correlation id");
  int32(); // throttle_time_ms
  const brokers: string[] = [];
  for (let n = int32(); n > 0; n--) {
    int32(); // node_id
    const host = str();
    const port = int32();
    str(); // rack
    brokers.push(`${host}:${port}`);
  }
  return brokers;
}

async function checkKafka(): Promise<void> {
  const brokers = kafkaBrokers();
  if (brokers.length === 0) throw new Error("no broker given");
  for (const broker of brokers) {
    await withWire(parseEndpoint(broker, 9092), async (wire) => {
      const correlationId = 0x7072; // "pr"
      wire.write(kafkaMetadataRequest(correlationId));
      const live = kafkaBrokersFrom(await wire.read(kafkaFrame), correlationId);
      if (live.length === 0) throw new Error(`${broker}: Metadata lists no live broker yet`);
    });
  }
}

// ------------------------------------------------------------------ postgres

/** One backend message: type byte and body. */
const pgMessage: Parser<{ type: string; body: Buffer }> = (buf) => {
  if (buf.length < 5) return undefined;
  const size = buf.readInt32BE(1);
  if (size < 4 || size > KAFKA_MAX_RESPONSE) throw new Error(`not a PostgreSQL message (length ${size})`);
  if (buf.length < 1 + size) return undefined;
  return { value: { type: String.fromCharCode(buf[0]!), body: buf.subarray(5, 1 + size) }, used: 1 + size };
};

function pgFrame(type: string, body: Buffer): Buffer {
  const head = Buffer.alloc(5);
  head.write(type, 0, "latin1");
  head.writeInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}

/** The M field (message) of an ErrorResponse. */
function pgErrorText(body: Buffer): string {
  for (const field of body.toString("utf8").split("\0")) if (field.startsWith("M")) return field.slice(1);
  return "error";
}

/** SCRAM-SHA-256 client (RFC 5802/7677), as PostgreSQL's SASL authentication runs it. */
async function pgScram(wire: Wire, password: string): Promise<void> {
  const { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } = await import("node:crypto");
  const hmac = (key: Buffer, data: string) => createHmac("sha256", key).update(data).digest();
  const nonce = randomBytes(18).toString("base64");
  const first = `n=,r=${nonce}`;
  const mech = Buffer.from("SCRAM-SHA-256\0");
  const init = Buffer.from(`n,,${first}`);
  const len = Buffer.alloc(4);
  len.writeInt32BE(init.length);
  wire.write(pgFrame("p", Buffer.concat([mech, len, init])));
  const cont = await wire.read(pgMessage);
  if (cont.type === "E") throw new Error(pgErrorText(cont.body));
  if (cont.type !== "R" || cont.body.readInt32BE(0) !== 11) throw new Error("unexpected SASL exchange");
  const serverFirst = cont.body.subarray(4).toString("utf8");
  const attrs = Object.fromEntries(serverFirst.split(",").map((a) => [a[0], a.slice(2)]));
  if (!attrs.r?.startsWith(nonce)) throw new Error("server nonce does not extend ours");
  const salted = pbkdf2Sync(password, Buffer.from(attrs.s!, "base64"), Number(attrs.i), 32, "sha256");
  const clientKey = hmac(salted, "Client Key");
  const storedKey = createHash("sha256").update(clientKey).digest();
  const finalBare = `c=biws,r=${attrs.r}`;
  const authMessage = `${first},${serverFirst},${finalBare}`;
  const signature = hmac(storedKey, authMessage);
  const proof = Buffer.from(clientKey.map((b, i) => b ^ signature[i]!)).toString("base64");
  wire.write(pgFrame("p", Buffer.from(`${finalBare},p=${proof}`)));
  const fin = await wire.read(pgMessage);
  if (fin.type === "E") throw new Error(pgErrorText(fin.body));
  if (fin.type !== "R" || fin.body.readInt32BE(0) !== 12) throw new Error("unexpected SASL final message");
  const verifier = Buffer.from(fin.body.subarray(4).toString("utf8").replace(/^v=/, ""), "base64");
  const expected = hmac(hmac(salted, "Server Key"), authMessage);
  if (verifier.length !== expected.length || !timingSafeEqual(verifier, expected)) throw new Error("server signature does not verify");
}

async function checkPostgres(): Promise<void> {
  const url = new URL(postgresUrl());
  const ep = parseEndpoint(postgresUrl(), 5432);
  const user = ep.username ?? "postgres";
  const database = decodeURIComponent(url.pathname.replace(/^\//, "")) || user;
  await withWire({ ...ep, tls: false }, async (wire) => {
    const params = Buffer.from(`user\0${user}\0database\0${database}\0application_name\0prism-test-probe\0\0`);
    const startup = Buffer.alloc(8);
    startup.writeInt32BE(8 + params.length, 0);
    startup.writeInt32BE(196608, 4); // protocol 3.0
    wire.write(Buffer.concat([startup, params]));
    for (;;) {
      const m = await wire.read(pgMessage);
      if (m.type === "E") throw new Error(`PostgreSQL said: ${pgErrorText(m.body)}`);
      if (m.type === "Z") break; // ReadyForQuery: logged in
      if (m.type !== "R") continue; // ParameterStatus, BackendKeyData, notices
      const kind = m.body.readInt32BE(0);
      if (kind === 0) continue;
      if (ep.password === undefined) throw new Error("the server asks for a password and the URL has none");
      if (kind === 3) wire.write(pgFrame("p", Buffer.from(`${ep.password}\0`)));
      else if (kind === 10) await pgScram(wire, ep.password);
      else throw new Error(`unsupported authentication request ${kind}`);
    }
    wire.write(pgFrame("X", Buffer.alloc(0)));
  });
}

// ------------------------------------------------------------------ public checks

const CHECKS: Record<ServiceName, () => Promise<void>> = {
  redis: checkRedis,
  "redis-cluster": checkRedisCluster,
  nats: checkNats,
  kafka: checkKafka,
  postgres: checkPostgres,
};

/** Where `name` is looked for, as shown in error messages. */
export function serviceEndpoint(name: ServiceName): string {
  return setting(name);
}

/**
 * Resolves once `name` answers a protocol-level ping at its configured
 * endpoint; otherwise rejects with an Error that says how to start it.
 */
export async function requireService(name: ServiceName): Promise<void> {
  const check = CHECKS[name];
  if (!check) throw new Error(`unknown service ${JSON.stringify(name)} (expected one of ${SERVICE_NAMES.join(", ")})`);
  try {
    await check();
  } catch (err) {
    throw new Error(
      `${name} is not reachable at ${serviceEndpoint(name)} (${(err as Error).message}): ` + `run \`make services\` (or set ${SPECS[name].env})`,
      { cause: err },
    );
  }
}

// ------------------------------------------------------------------ Prism images (container suites)

/**
 * The image the container suites (tests/containers/) run for a Prism executable: `PRISM_TEST_IMAGES`, a pattern
 * in which `%s` is the executable's name (default `prism/%s:latest`, what `make images` builds). Point it at images
 * built elsewhere (a CI registry, Docker Desktop) and the same suites run against those.
 */
export function prismImage(name: string): string {
  const pattern = process.env.PRISM_TEST_IMAGES?.trim() || "prism/%s:latest";
  return pattern.replaceAll("%s", name);
}

/** Resolves when a Docker engine answers `docker info`; otherwise rejects saying how to get one. */
export async function requireDocker(): Promise<void> {
  const docker = Bun.which("docker");
  if (!docker) throw new Error("no docker client on PATH: run `make docker-engine`");
  const p = Bun.spawn([docker, "info", "--format", "{{.ServerVersion}}"], { stdout: "pipe", stderr: "pipe" });
  const [code, err] = await Promise.all([p.exited, new Response(p.stderr).text()]);
  if (code !== 0) throw new Error(`no Docker engine answers (${err.trim().split("\n")[0]}): run \`make docker-engine\``);
}
