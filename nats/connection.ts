import { connect, DebugEvents, Events, type NatsConnection } from "nats";
import { unavailable, type Logger } from "@prism/sdk";
import { natsAuthOptions } from "./auth";
import { servers, type NatsConfig } from "./config";

export type ConnectionState = "connecting" | "connected" | "reconnecting" | "closed";

/**
 * The pattern's one NATS connection. It is opened in the background and re-opened forever with bounded
 * exponential backoff, so the pattern starts (unhealthy) while the server is down and recovers by itself.
 * While not connected every data call fails at once with UNAVAILABLE instead of waiting for a confirmation
 * that cannot come. (A publish nats.js buffers while disconnected is not sent later: nats.js 2.29 discards its
 * outbound buffer each time it dials, and the pending flush fails with DISCONNECT.)
 */
export class NatsConnector {
  private nc: NatsConnection | undefined;
  private stateNow: ConnectionState = "connecting";
  private attempt = 0;
  private lastErrorText = "";
  private closing = false;
  private readonly disconnectListeners = new Set<() => void>();
  /** Resolves once connected for the first time (or rejects when closed before that). */
  readonly ready: Promise<NatsConnection>;
  reconnects = 0;

  constructor(
    private readonly cfg: NatsConfig,
    private readonly logger: Logger,
  ) {
    this.ready = this.open();
    this.ready.catch(() => undefined);
  }

  get state(): ConnectionState {
    return this.stateNow;
  }

  get lastError(): string {
    return this.lastErrorText;
  }

  /** The live connection, or UNAVAILABLE while there is none. */
  current(): NatsConnection {
    if (this.stateNow === "connected" && this.nc) return this.nc;
    throw unavailable(`nats ${this.stateNow === "closed" ? "connection is closed" : `is unreachable (${this.stateNow} to ${this.cfg.url})`}`);
  }

  /** Calls `listener` whenever the connection is lost; returns the function that removes it. */
  onDisconnect(listener: () => void): () => void {
    this.disconnectListeners.add(listener);
    return () => this.disconnectListeners.delete(listener);
  }

  /** Bounded exponential backoff with jitter between reconnect attempts. */
  private delay(): number {
    const ceiling = Math.min(this.cfg.reconnect_max_wait, this.cfg.reconnect_wait * 2 ** Math.min(this.attempt++, 16));
    return ceiling / 2 + (Math.random() * ceiling) / 2;
  }

  /** First connection: retried here (so close() can stop it); later reconnects are nats.js's. */
  private async open(): Promise<NatsConnection> {
    let nc: NatsConnection | undefined;
    while (!nc) {
      if (this.closing) throw unavailable("nats connector closed");
      try {
        nc = await connect({
          servers: servers(this.cfg),
          name: this.cfg.name,
          timeout: this.cfg.connect_timeout,
          reconnect: true,
          maxReconnectAttempts: -1,
          reconnectDelayHandler: () => this.delay(),
          pingInterval: this.cfg.ping_interval,
          maxPingOut: this.cfg.max_pings_out,
          ...natsAuthOptions(this.cfg),
        });
      } catch (err) {
        this.lastErrorText = (err as Error).message;
        if (this.attempt === 0) this.logger.warn("nats unreachable; retrying in the background", { url: this.cfg.url, error: this.lastErrorText });
        await Bun.sleep(this.delay());
      }
    }
    if (this.closing) {
      await nc.close().catch(() => undefined);
      throw unavailable("nats connector closed");
    }
    this.nc = nc;
    this.stateNow = "connected";
    this.attempt = 0;
    this.logger.info("nats connected", { server: nc.getServer() });
    void this.watch(nc);
    void nc.closed().then((err) => {
      this.stateNow = "closed";
      if (err && !this.closing) this.logger.error("nats connection closed", { error: err.message });
    });
    return nc;
  }

  private async watch(nc: NatsConnection): Promise<void> {
    for await (const s of nc.status()) {
      switch (s.type) {
        case Events.Disconnect:
          if (this.stateNow === "connected") this.logger.warn("nats disconnected; reconnecting", { server: String(s.data) });
          this.stateNow = "reconnecting";
          for (const l of this.disconnectListeners) l();
          break;
        case Events.Reconnect:
          this.stateNow = "connected";
          this.attempt = 0;
          this.reconnects++;
          this.logger.info("nats reconnected", { server: String(s.data) });
          break;
        case DebugEvents.Reconnecting:
          this.stateNow = "reconnecting";
          break;
        case Events.Error:
          this.lastErrorText = String(s.data);
          this.logger.warn("nats async error", { error: this.lastErrorText });
          break;
      }
    }
  }

  /** Closes the connection (bounded). */
  async close(timeoutMs: number): Promise<void> {
    this.closing = true;
    const nc = this.nc;
    this.stateNow = "closed";
    if (!nc) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([nc.close().catch(() => undefined), new Promise<void>((r) => (timer = setTimeout(r, timeoutMs)))]);
    clearTimeout(timer);
  }
}
