import { Cluster, Redis, type ClusterOptions, type RedisOptions } from "ioredis";
import { unavailable, type Logger } from "@prism/sdk";
import type { RedisConfig } from "./config";

/** The command client: one multiplexed, auto-pipelined connection, or a cluster of them. */
export type RedisClient = Redis | Cluster;

/** Reconnect delay: doubling from 50 ms up to the configured ceiling, with jitter so restarts do not align. */
function reconnectDelay(times: number, maxMs: number): number {
  const ceiling = Math.min(maxMs, 50 * 2 ** Math.min(times - 1, 16));
  return Math.round(ceiling / 2 + (Math.random() * ceiling) / 2);
}

/**
 * Options that make a dead Redis fail calls at once instead of queueing them: no offline queue, no command kept
 * across a reconnect (a write that already failed for its caller must not be applied later), a per-command timeout.
 */
function nodeOptions(c: RedisConfig): RedisOptions {
  return {
    username: c.username,
    password: c.password,
    tls: c.tls,
    connectTimeout: c.connectTimeoutMs,
    commandTimeout: c.commandTimeoutMs,
    maxRetriesPerRequest: 0,
    autoResendUnfulfilledCommands: false,
    connectionName: "prism-redis",
  };
}

function createClient(c: RedisConfig, role: string): RedisClient {
  // A blocking command has no per-command timeout (ioredis would time out any number, 0 included); instead its
  // BLOCK time plus command_timeout bounds it client-side (a frozen server answers nothing: it then resolves empty).
  const blocking = role === "blocking";
  const timeouts = blocking
    ? { commandTimeout: undefined, blockingTimeout: c.commandTimeoutMs, blockingTimeoutGrace: c.commandTimeoutMs }
    : { commandTimeout: c.commandTimeoutMs };
  const retry = (times: number) => reconnectDelay(times, c.reconnectMaxDelayMs);
  if (c.mode === "cluster") {
    const opts: ClusterOptions = {
      enableAutoPipelining: role === "commands",
      enableOfflineQueue: false,
      clusterRetryStrategy: retry,
      slotsRefreshTimeout: c.connectTimeoutMs,
      redisOptions: { ...nodeOptions(c), ...timeouts },
    };
    return new Cluster(c.nodes, opts);
  }
  const node = c.nodes[0]!;
  return new Redis({
    ...nodeOptions(c),
    ...timeouts,
    host: node.host,
    port: node.port,
    db: c.db,
    enableAutoPipelining: role === "commands",
    enableOfflineQueue: false,
    retryStrategy: retry,
  });
}

/**
 * The pattern's connections to Redis: the command client and, created on first Subscribe, a dedicated subscriber
 * connection (a connection in subscribe mode cannot run other commands). Tracks the last connection error for
 * health reports and logs outages once, not per reconnect attempt.
 */
export class RedisConnection {
  readonly client: RedisClient;
  private subscriberClient: RedisClient | undefined;
  private lastErrorText = "";
  private down = false;
  private closing = false;

  constructor(
    readonly config: RedisConfig,
    private readonly logger: Logger,
  ) {
    this.client = this.watch(createClient(config, "commands"), "commands");
  }

  /** host:port of the server, or the cluster seeds. */
  get target(): string {
    const list = this.config.nodes.map((n) => (n.host.includes(":") ? `[${n.host}]:${n.port}` : `${n.host}:${n.port}`));
    return this.config.mode === "cluster" ? `cluster ${list.join(",")}` : list[0]!;
  }

  get ready(): boolean {
    return this.client.status === "ready";
  }

  get status(): string {
    return this.client.status;
  }

  /** Connections that are ready: the command client (each node of a cluster) and the subscriber once opened. */
  activeConnections(): number {
    const count = (c: RedisClient | undefined): number => {
      if (c === undefined) return 0;
      if (c instanceof Redis) return c.status === "ready" ? 1 : 0;
      return c.status === "ready" ? c.nodes().filter((n) => n.status === "ready").length : 0;
    };
    return count(this.client) + count(this.subscriberClient);
  }

  /** The last connection error seen, "" when none since the connection was last ready. */
  get lastError(): string {
    return this.lastErrorText;
  }

  /** Servers that hold keys, sorted by address: the one server, or every cluster master. */
  masters(): Redis[] {
    if (this.client instanceof Redis) return [this.client];
    return this.client.nodes("master").sort((a, b) => nodeId(a).localeCompare(nodeId(b)));
  }

  /** The subscriber connection, connected on first use. */
  subscriber(): RedisClient {
    this.subscriberClient ??= this.watch(createClient(this.config, "subscriber"), "subscriber");
    return this.subscriberClient;
  }

  /** The subscriber connection once it is ready (waiting at most connect_timeout), or UNAVAILABLE. */
  async readySubscriber(): Promise<RedisClient> {
    const sub = this.subscriber();
    if (!(await whenReady(sub, this.config.connectTimeoutMs))) {
      throw unavailable(`redis ${this.target} unavailable: subscriber connection not ready (${this.lastErrorText || sub.status})`);
    }
    return sub;
  }

  /**
   * A connection of its own for blocking reads (XREAD BLOCK would stall every command pipelined behind it), with
   * no per-command timeout: the caller bounds each block and closes the connection when done.
   */
  async blockingClient(): Promise<RedisClient> {
    const client = createClient(this.config, "blocking");
    client.on("error", () => undefined);
    if (!(await whenReady(client, this.config.connectTimeoutMs))) {
      client.disconnect();
      throw unavailable(`redis ${this.target} unavailable: reader connection not ready (${this.lastErrorText || client.status})`);
    }
    return client;
  }

  /** Resolves true once the command client is ready, false after timeoutMs. */
  waitReady(timeoutMs: number): Promise<boolean> {
    return whenReady(this.client, timeoutMs);
  }

  /** Closes every connection; commands still in flight fail. */
  async close(): Promise<void> {
    this.closing = true;
    const clients = [this.client, this.subscriberClient].filter((c): c is RedisClient => c !== undefined);
    await Promise.all(clients.map((c) => c.quit().catch(() => c.disconnect())));
  }

  private watch(client: RedisClient, role: string): RedisClient {
    const markDown = (reason: string) => {
      this.lastErrorText = reason;
      if (role !== "commands" || this.down || this.closing) return;
      this.down = true;
      this.logger.warn("redis connection down", { target: this.target, error: reason });
    };
    client.on("error", (err: Error) => markDown(err.message));
    client.on("close", () => markDown(this.lastErrorText || "connection closed"));
    client.on("ready", () => {
      if (role !== "commands") return;
      if (this.down) this.logger.info("redis connection restored", { target: this.target });
      this.down = false;
      this.lastErrorText = "";
    });
    return client;
  }
}

function whenReady(client: RedisClient, timeoutMs: number): Promise<boolean> {
  if (client.status === "ready") return Promise.resolve(true);
  return new Promise((resolve) => {
    const onReady = () => finish(true);
    const timer = setTimeout(() => finish(false), timeoutMs);
    const finish = (ok: boolean) => {
      clearTimeout(timer);
      client.off("ready", onReady);
      resolve(ok);
    };
    client.on("ready", onReady);
  });
}

function nodeId(r: Redis): string {
  return `${r.options.host}:${r.options.port}`;
}
