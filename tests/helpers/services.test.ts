import { afterEach, describe, expect, test } from "bun:test";
import net from "node:net";
import { kafkaBrokers, natsUrl, parseEndpoint, postgresUrl, redisClusterSeeds, redisUrl, requireService, SERVICE_NAMES } from "./services";

const ENV_VARS = ["PRISM_TEST_REDIS_URL", "PRISM_TEST_REDIS_CLUSTER", "PRISM_TEST_NATS_URL", "PRISM_TEST_KAFKA_BROKERS", "PRISM_TEST_POSTGRES_URL"];
const saved = Object.fromEntries(ENV_VARS.map((k) => [k, process.env[k]]));

afterEach(() => {
  for (const k of ENV_VARS) {
    if (saved[k] === undefined) delete process.env[k];
    else process.env[k] = saved[k];
  }
});

/** A loopback port that nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe("endpoints", () => {
  test("defaults are the loopback ports of scripts/services", () => {
    for (const k of ENV_VARS) delete process.env[k];
    expect(redisUrl()).toBe("redis://127.0.0.1:6379");
    expect(redisClusterSeeds()).toEqual(["127.0.0.1:7000", "127.0.0.1:7001", "127.0.0.1:7002"]);
    expect(natsUrl()).toBe("nats://127.0.0.1:4222");
    expect(kafkaBrokers()).toEqual(["127.0.0.1:9092"]);
    expect(postgresUrl()).toBe("postgres://prism:prism@127.0.0.1:5433/prism");
  });

  test("environment overrides win; blank means unset", () => {
    process.env.PRISM_TEST_REDIS_URL = "redis://10.0.0.5:6380";
    process.env.PRISM_TEST_REDIS_CLUSTER = " a:1 , b:2 ";
    process.env.PRISM_TEST_NATS_URL = "nats://n:4223";
    process.env.PRISM_TEST_KAFKA_BROKERS = "k1:9092,k2:9093";
    expect(redisUrl()).toBe("redis://10.0.0.5:6380");
    expect(redisClusterSeeds()).toEqual(["a:1", "b:2"]);
    expect(natsUrl()).toBe("nats://n:4223");
    expect(kafkaBrokers()).toEqual(["k1:9092", "k2:9093"]);
    process.env.PRISM_TEST_REDIS_URL = "  ";
    expect(redisUrl()).toBe("redis://127.0.0.1:6379");
  });

  test("parseEndpoint reads scheme, credentials, IPv6 and default ports", () => {
    expect(parseEndpoint("127.0.0.1:7000", 6379)).toMatchObject({ host: "127.0.0.1", port: 7000, tls: false });
    expect(parseEndpoint("rediss://u:p%40ss@h", 6379)).toMatchObject({
      host: "h",
      port: 6379,
      tls: true,
      username: "u",
      password: "p@ss",
    });
    expect(parseEndpoint("[::1]:9092", 9092)).toMatchObject({ host: "::1", port: 9092 });
  });
});

describe("requireService against the running services", () => {
  for (const name of SERVICE_NAMES) {
    test(name, async () => {
      await requireService(name);
    }, 15_000);
  }
});

describe("requireService failures are loud", () => {
  test("nothing listening: names the endpoint, `make services` and the variable", async () => {
    const port = await closedPort();
    process.env.PRISM_TEST_REDIS_URL = `redis://127.0.0.1:${port}`;
    const err = await requireService("redis").then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err).toBeInstanceOf(Error);
    expect(err!.message).toContain(`redis is not reachable at redis://127.0.0.1:${port}`);
    expect(err!.message).toContain("run `make services` (or set PRISM_TEST_REDIS_URL)");
  });

  test("a port that speaks another protocol is not taken for the service", async () => {
    // A server that answers like a web server to anything.
    const server = net.createServer((sock) => sock.end("HTTP/1.1 400 Bad Request\r\n\r\n"));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as net.AddressInfo;
    try {
      process.env.PRISM_TEST_REDIS_URL = `redis://127.0.0.1:${port}`;
      await expect(requireService("redis")).rejects.toThrow(/redis is not reachable.*not a Redis reply/);
      process.env.PRISM_TEST_KAFKA_BROKERS = `127.0.0.1:${port}`;
      await expect(requireService("kafka")).rejects.toThrow(/kafka is not reachable.*not a Kafka response/);
      process.env.PRISM_TEST_NATS_URL = `nats://127.0.0.1:${port}`;
      await expect(requireService("nats")).rejects.toThrow(/nats is not reachable.*not a NATS server/);
      process.env.PRISM_TEST_POSTGRES_URL = `postgres://u:p@127.0.0.1:${port}/db`;
      await expect(requireService("postgres")).rejects.toThrow(/postgres is not reachable.*not a PostgreSQL message/);
      // And the real NATS server is no Redis.
      process.env.PRISM_TEST_REDIS_URL = natsUrl().replace(/^nats:/, "redis:");
      await expect(requireService("redis")).rejects.toThrow(/not a Redis reply/);
    } finally {
      server.close();
    }
  });

  test("PostgreSQL with a wrong password is not reachable: the probe really logs in", async () => {
    const u = new URL(postgresUrl());
    u.password = "not-the-password";
    process.env.PRISM_TEST_POSTGRES_URL = u.toString();
    await expect(requireService("postgres")).rejects.toThrow(/postgres is not reachable.*password authentication failed/);
  });

  test("a single node is not a cluster", async () => {
    process.env.PRISM_TEST_REDIS_CLUSTER = "127.0.0.1:6379";
    await expect(requireService("redis-cluster")).rejects.toThrow(/cluster/i);
  });

  test("an unknown name is rejected", async () => {
    await expect(requireService("mongodb" as never)).rejects.toThrow(/unknown service/);
  });
});
