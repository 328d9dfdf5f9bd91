/**
 * The one place test suites get real backend endpoints from.
 *
 *   redisUrl()           PRISM_TEST_REDIS_URL      default redis://127.0.0.1:6379
 *   redisClusterSeeds()  PRISM_TEST_REDIS_CLUSTER  default 127.0.0.1:7000,127.0.0.1:7001,127.0.0.1:7002
 *   natsUrl()            PRISM_TEST_NATS_URL       default nats://127.0.0.1:4222
 *   kafkaBrokers()       PRISM_TEST_KAFKA_BROKERS  default 127.0.0.1:9092
 *
 * `await requireService(name)` opens a plain TCP connection and speaks the
 * service's own protocol (no client library): Redis PING, Redis CLUSTER INFO,
 * NATS INFO/CONNECT/PING with JetStream on, a Kafka Metadata request. A missing
 * service is an Error telling how to start it, never a silent skip.
 *
 * Tests that take a backend away mid-run start their own server on a free port
 * and stop it by pid, so the shared services are never disturbed.
 */
import net from "node:net";
import tls from "node:tls";

export type ServiceName = "redis" | "redis-cluster" | "nats" | "kafka";

export const SERVICE_NAMES: readonly ServiceName[] = ["redis", "redis-cluster", "nats", "kafka"];

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

// ------------------------------------------------------------------ public checks

const CHECKS: Record<ServiceName, () => Promise<void>> = {
  redis: checkRedis,
  "redis-cluster": checkRedisCluster,
  nats: checkNats,
  kafka: checkKafka,
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
      `${name} is not reachable at ${serviceEndpoint(name)} (${(err as Error).message}): ` +
        `run \`make services\` (or set ${SPECS[name].env})`,
      { cause: err },
    );
  }
}
