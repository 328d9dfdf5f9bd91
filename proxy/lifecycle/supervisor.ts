import type { ConnectionOptions } from "node:tls";
import { sleep, ConfigError, backoff, PrismError, type Logger } from "@prism/sdk";
import { readClientTls } from "../security/tls";
import type { NamespaceConfig, ProxyConfig } from "../config";
import type { ProxyMetrics } from "../metrics";
import type { PatternInstance } from "../pattern_registry";
import { msLeft, within } from "../shutdown_plan";
import { assertSlots, bringUp, FatalStartError, watchHealth } from "./bring_up";
import type { ControlPlane } from "./control_plane";
import { GrpcLifecycleChannel, REMOTE_RETRY_MAX_MS } from "./grpc_channel";
import { launchPattern, patternExecutable, type LaunchedProcess, type LaunchOptions } from "./launcher";
import type { StreamLifecycleChannel } from "./stream_channel";

/** Keeps one namespace's pattern serving, from start-up to shutdown. */
export interface Supervisor {
  readonly instance: PatternInstance;
  /** Resolves once the namespace first serves (or, remote, has been tried); rejects when start-up must fail. */
  start(): Promise<void>;
  /** Asks a launched pattern to finish calls in flight and end its streams, giving up at `deadline` (Date.now() ms); no-op for remote ones. */
  drain(reason: string, deadline: number): Promise<void>;
  /** Stops what the proxy launched (draining first if not yet drained), killing it to be done by `deadline`; disconnects from remote patterns. */
  stop(reason: string, deadline: number): Promise<void>;
}

export interface SupervisorDeps {
  readonly cfg: ProxyConfig;
  readonly ns: NamespaceConfig;
  readonly metrics: ProxyMetrics;
  readonly logger: Logger;
}

function describeExit(e: { code: number | null; signal: string | null }): string {
  return e.signal ? `killed by ${e.signal}` : `exited with code ${e.code}`;
}

interface RunResult {
  served: boolean;
  servedForMs: number;
  error: unknown;
  exit?: { code: number | null; signal: string | null };
}

/**
 * Launches patterns_dir/<pattern>, waits for it to register on the control plane,
 * brings it up, watches its health, and restarts it with exponential backoff
 * when it dies. A failure before the first successful start is fatal.
 */
export class LaunchedSupervisor implements Supervisor {
  /** Set when shutdown begins (drain or stop): an exit from then on is not restarted. */
  private stopping = false;
  private stopped: Promise<void> | undefined;
  private readonly stopCtl = new AbortController();
  private proc: LaunchedProcess | undefined;
  private channel: StreamLifecycleChannel | undefined;
  private loopDone: Promise<void> = Promise.resolve();
  private readonly log: Logger;

  constructor(
    readonly instance: PatternInstance,
    private readonly deps: SupervisorDeps & { controlPlane: ControlPlane; launch: LaunchOptions },
  ) {
    this.log = deps.logger.child({ namespace: deps.ns.name, pattern: deps.ns.pattern, ...(deps.ns.replicas > 1 && { replica: instance.replica }) });
  }

  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.loopDone = this.loop(resolve, reject);
    });
  }

  private async loop(onUp: () => void, onFatal: (err: unknown) => void): Promise<void> {
    const { ns } = this.deps;
    let attempt = 0;
    for (let first = true; !this.stopping; first = false) {
      const r = await this.runOnce(first ? onUp : undefined);
      if (this.stopping) return;
      if (first && !r.served) return onFatal(r.error);
      // A pattern that served for a while before dying starts the backoff afresh.
      attempt = r.servedForMs > ns.settings.restartMaxDelayMs ? 1 : attempt + 1;
      const delay = Math.round(backoff(attempt, { initialDelayMs: ns.settings.restartInitialDelayMs, maxDelayMs: ns.settings.restartMaxDelayMs }));
      this.instance.restarts++;
      this.instance.stats.restarted();
      this.instance.setStatus("restarting");
      this.log.warn("pattern exited; restarting", {
        reason: r.error instanceof Error ? r.error.message : String(r.error),
        exit_code: r.exit?.code ?? null,
        signal: r.exit?.signal ?? null,
        restarts: this.instance.restarts,
        delay_ms: delay,
      });
      try {
        await sleep(delay, this.stopCtl.signal);
      } catch {
        return;
      }
    }
  }

  /** One process from launch to exit. */
  private async runOnce(onUp?: () => void): Promise<RunResult> {
    const { cfg, ns, controlPlane, launch } = this.deps;
    let exe: string;
    try {
      const key = `namespaces[${ns.path[1]}].pattern`;
      exe = patternExecutable(launch.patternsDir, ns.pattern!, { file: cfg.file, key, line: cfg.lineOf([...ns.path, "pattern"]) });
    } catch (err) {
      this.instance.unserve("failed", (err as Error).message);
      return { served: false, servedForMs: 0, error: new FatalStartError((err as Error).message) };
    }
    const proc = launchPattern(exe, launch);
    this.proc = proc;
    this.instance.pid = proc.pid;
    this.instance.setStatus("starting");
    void proc.exited.then((e) => this.instance.exited(proc.pid, e));
    const reg = controlPlane.expect(proc.pid, proc.launchToken);
    void proc.exited.then((e) => reg.cancel(`pattern ${ns.pattern} ${describeExit(e)} before registering`));
    const timer = setTimeout(() => reg.cancel(`pattern ${ns.pattern} did not register within ${ns.settings.startTimeoutMs} ms`), ns.settings.startTimeoutMs);
    let servedAt = 0;
    let error: unknown;
    try {
      const channel = await reg.channel;
      clearTimeout(timer);
      this.channel = channel;
      assertSlots(cfg, ns, ns.pattern!, channel.registration.metadata);
      await bringUp(channel, cfg, ns, this.instance, { name: channel.registration.patternName, version: channel.registration.patternVersion });
      servedAt = Date.now();
      this.instance.markUp(true);
      this.log.info("pattern serving", { pattern_pid: proc.pid, endpoint: this.instance.endpoint });
      onUp?.();
      const health = new AbortController();
      const stopped = AbortSignal.any([health.signal, this.stopCtl.signal]);
      error = await Promise.race([
        proc.exited.then(describeExit),
        channel.lost.then((r) => `control stream lost: ${r}`),
        watchHealth(channel, ns, this.instance, stopped),
      ]);
      health.abort();
    } catch (err) {
      clearTimeout(timer);
      error = err;
    } finally {
      this.instance.markUp(false);
    }
    if (this.stopping) return { served: servedAt > 0, servedForMs: 0, error };
    this.instance.unserve(servedAt > 0 ? "restarting" : "failed", error instanceof Error ? error.message : String(error));
    this.channel?.close();
    this.channel = undefined;
    proc.kill("SIGKILL");
    const exit = await proc.exited;
    return { served: servedAt > 0, servedForMs: servedAt > 0 ? Date.now() - servedAt : 0, error, exit };
  }

  private drained: Promise<boolean> | undefined;

  drain(reason: string, deadline: number): Promise<void> {
    return this.drainOnce(reason, deadline).then(() => undefined);
  }

  /** Drain over the control stream, once; true when the pattern answered. */
  private drainOnce(reason: string, deadline: number): Promise<boolean> {
    this.stopping = true;
    this.drained ??= (async () => {
      const channel = this.channel;
      if (this.instance.status !== "serving" || !channel || !this.proc?.running) return false;
      // drain_timeout (+1 s for the answer), cut to what the shutdown bound leaves; the pattern gets a second less, to answer in time.
      const waitMs = Math.min(this.deps.ns.settings.drainTimeoutMs + 1000, msLeft(deadline));
      if (waitMs <= 0) return false;
      try {
        const d = await channel.drain({ timeoutSeconds: Math.max(1, Math.floor((waitMs - 1000) / 1000)), reason }, waitMs);
        this.log.info("pattern drained", { drained: Number(d.drainedOperations), aborted: Number(d.abortedOperations) });
        return true;
      } catch (err) {
        this.log.warn("pattern did not drain", { err: PrismError.from(err).message });
        return false;
      }
    })();
    return this.drained;
  }

  stop(reason: string, deadline: number): Promise<void> {
    this.stopped ??= this.stopOnce(reason, deadline);
    return this.stopped;
  }

  /**
   * Stop command, then SIGTERM, then SIGKILL, each bounded by its own setting and by a
   * share of the time left until `deadline` (half for Stop, then up to 80 % for SIGTERM),
   * so that SIGKILL still comes before it.
   */
  private async stopOnce(reason: string, deadline: number): Promise<void> {
    const { ns } = this.deps;
    const drained = await this.drainOnce(reason, deadline);
    this.stopCtl.abort();
    const proc = this.proc;
    const channel = this.channel;
    this.instance.setStatus("stopping");
    if (proc?.running) {
      const left = msLeft(deadline);
      const graceUntil = Date.now() + left * 0.5;
      const termUntil = Date.now() + left * 0.8;
      if (drained && channel) {
        try {
          await channel.stop({ timeoutSeconds: 1 }, Math.min(ns.settings.commandTimeoutMs, msLeft(graceUntil)));
        } catch (err) {
          this.log.warn("pattern did not stop cleanly", { err: PrismError.from(err).message });
        }
        if (!(await within(proc.exited, Math.min(ns.settings.commandTimeoutMs, msLeft(graceUntil))))) proc.kill("SIGTERM");
      } else {
        proc.kill("SIGTERM");
      }
      if (!(await within(proc.exited, Math.min(5_000, msLeft(termUntil))))) {
        this.log.warn("pattern did not exit; killing it", { pattern_pid: proc.pid });
        proc.kill("SIGKILL");
      }
    }
    if (proc) {
      // After SIGKILL the exit is immediate; the bound only guards against a process the kernel cannot reap.
      if (await within(proc.exited, Math.max(200, msLeft(deadline)))) {
        const exit = await proc.exited;
        this.log.info("pattern stopped", { pattern_pid: proc.pid, exit_code: exit.code, signal: exit.signal });
      } else {
        this.log.error("pattern did not exit after SIGKILL", { pattern_pid: proc.pid });
      }
    }
    channel?.close();
    this.instance.unserve("stopped");
    await within(this.loopDone, Math.max(200, msLeft(deadline)));
  }
}

const DROPPED = "the connection to the pattern dropped (it restarted or went away)";

/**
 * A namespace served by a pattern the proxy did not launch (`address:`): driven
 * through LifecycleInterface, forwarded to directly, never stopped by the proxy.
 * It is re-initialized when it comes back after failing health checks, and when
 * the proxy's connection to it drops (a quick restart is a new, uninitialized
 * process even if no health check failed); retries while it is away wait at most
 * REMOTE_RETRY_MAX_MS, so it serves again within about a second of answering.
 * A pattern that broke HTTP/2 on its health connection is tried again after
 * REMOTE_RETRY_MAX_MS: re-Initialized sooner, it would attack each new connection.
 */
export class RemoteSupervisor implements Supervisor {
  private stopping = false;
  private readonly stopCtl = new AbortController();
  private readonly channel: GrpcLifecycleChannel;
  /** TLS to the remote pattern (namespace tls:), for both the lifecycle channel and the data upstream. */
  private readonly tls: ConnectionOptions | undefined;
  private loopDone: Promise<void> = Promise.resolve();
  private readonly log: Logger;

  private readonly address: string;

  constructor(
    readonly instance: PatternInstance,
    private readonly deps: SupervisorDeps,
  ) {
    this.address = deps.ns.addresses?.[instance.replica] ?? deps.ns.address!;
    const files = deps.ns.remote?.tls;
    if (files) {
      try {
        this.tls = readClientTls(files);
      } catch (err) {
        const path = [...deps.ns.path, "tls"];
        throw new ConfigError(deps.cfg.file, `namespaces[${deps.ns.path[1]}].tls`, deps.cfg.lineOf(path), `cannot read: ${(err as Error).message}`);
      }
    }
    this.channel = new GrpcLifecycleChannel(this.address, this.tls);
    this.log = deps.logger.child({ namespace: deps.ns.name, address: this.address });
  }

  start(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.loopDone = this.loop(resolve, reject);
    });
  }

  private async loop(onFirstTry: () => void, onFatal: (err: unknown) => void): Promise<void> {
    const { cfg, ns } = this.deps;
    let attempt = 0;
    for (let first = true; !this.stopping; first = false) {
      const watching = new AbortController();
      let brokeHttp2 = false;
      try {
        let onDrop!: (violation?: string) => void;
        let violation: string | undefined;
        const dropped = new Promise<typeof DROPPED>(
          (resolve) =>
            (onDrop = (v) => {
              violation = v;
              resolve(DROPPED);
            }),
        );
        await bringUp(this.channel, cfg, ns, this.instance, { name: "", version: "" }, this.address, { ...(this.tls && { tls: this.tls }), onDrop });
        attempt = 0;
        this.instance.markUp(true);
        this.log.info("remote pattern serving", { pattern: this.instance.pattern });
        onFirstTry();
        const why = await Promise.race([watchHealth(this.channel, ns, this.instance, AbortSignal.any([watching.signal, this.stopCtl.signal])), dropped]);
        watching.abort();
        this.instance.markUp(false);
        if (this.stopping) return;
        brokeHttp2 = why === DROPPED && violation !== undefined;
        const reason = brokeHttp2 ? `the pattern broke HTTP/2 on its health connection: ${violation}` : why;
        // After a drop, calls in flight on other connections may still be answered (a graceful stop): let them finish.
        this.instance.unserve("unavailable", reason, why === DROPPED);
        this.log.warn("remote pattern unavailable", { reason });
      } catch (err) {
        watching.abort();
        if (this.stopping) return;
        if (first && err instanceof FatalStartError) return onFatal(err);
        const message = err instanceof Error ? err.message : String(err);
        this.instance.unserve("unavailable", message);
        if (first || attempt === 0) this.log.warn("remote pattern not reachable; retrying", { reason: message });
        onFirstTry();
      }
      const { restartInitialDelayMs, restartMaxDelayMs } = this.deps.ns.settings;
      const maxDelayMs = Math.min(restartMaxDelayMs, REMOTE_RETRY_MAX_MS);
      // The bring-up succeeded (attempt is 0), yet the pattern broke HTTP/2: each bring-up would meet the attack again.
      const delay = brokeHttp2 ? REMOTE_RETRY_MAX_MS : backoff(++attempt, { initialDelayMs: Math.min(restartInitialDelayMs, maxDelayMs), maxDelayMs });
      try {
        await sleep(delay, this.stopCtl.signal);
      } catch {
        return;
      }
    }
  }

  async drain(): Promise<void> {}

  async stop(_reason: string, deadline: number): Promise<void> {
    this.stopping = true;
    this.stopCtl.abort();
    this.instance.unserve("stopped");
    this.channel.close();
    // A lifecycle command in flight ends at its own command_timeout; do not wait past the deadline for it.
    await within(this.loopDone, msLeft(deadline));
  }
}
