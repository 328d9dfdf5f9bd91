import { timingSafeEqual } from "node:crypto";
import type { PatternMessage, ProxyControlPlane } from "../../proto/gen/prism/interfaces/proxy_control_plane_pb";
import { Code, PrismError, LAUNCH_TOKEN_HEADER, type ServiceImpl, type Logger } from "@prism/sdk";
import { PEER_PID_HEADER } from "../security/peer_pid";
import { StreamLifecycleChannel, type OutgoingCommand } from "./stream_channel";

interface Waiter {
  token: string;
  resolve(channel: StreamLifecycleChannel): void;
  reject(err: unknown): void;
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * The proxy side of ProxyControlPlane.ManagePattern: a launched pattern dials in
 * and registers with its pid and the one-time secret it was launched with
 * (x-prism-launch-token); the stream is handed to whoever launched that pid (see
 * expect). The pid must be the one the kernel reports for the registering
 * connection (x-prism-peer-pid, set by the server from SO_PEERCRED), so a copy of
 * the secret is of no use to any other process. Any other registration — unknown
 * pid, a connection of another process, missing or wrong secret, a pid registering
 * twice — is refused and audited: a local process racing a restart cannot pose as
 * the pattern and receive its Initialize (backend credentials).
 */
export class ControlPlane {
  private readonly waiting = new Map<number, Waiter>();
  private instances = 0;

  constructor(
    private readonly logger: Logger,
    /** Where refused registrations are recorded (one line each). */
    private readonly audit?: (e: { pid: number; pattern: string; reason: string }) => void,
  ) {}

  /** Waits for process `pid` to register with `token`; cancel() stops waiting (e.g. the process exited first). */
  expect(pid: number, token: string): { channel: Promise<StreamLifecycleChannel>; cancel(reason: string): void } {
    let waiter!: Waiter;
    const channel = new Promise<StreamLifecycleChannel>((resolve, reject) => (waiter = { token, resolve, reject }));
    this.waiting.set(pid, waiter);
    return {
      channel,
      cancel: (reason) => {
        if (this.waiting.get(pid) !== waiter) return;
        this.waiting.delete(pid);
        waiter.reject(new PrismError(Code.UNAVAILABLE, reason));
      },
    };
  }

  /** The service implementation to register on the proxy's local gRPC server. */
  readonly service: ServiceImpl<typeof ProxyControlPlane> = {
    managePattern: (messages, ctx) => {
      const t = ctx.metadata.get(LAUNCH_TOKEN_HEADER)[0];
      const p = Number(ctx.metadata.get(PEER_PID_HEADER)[0]);
      return this.session(messages, ctx.signal, typeof t === "string" ? t : "", Number.isInteger(p) && p > 0 ? p : undefined);
    },
  };

  private async *session(
    messages: AsyncIterable<PatternMessage>,
    signal: AbortSignal,
    token: string,
    peerPid: number | undefined,
  ): AsyncIterable<OutgoingCommand> {
    const it = messages[Symbol.asyncIterator]();
    const first = await it.next();
    if (first.done) return;
    const msg = first.value;
    if (msg.message.case !== "register") {
      yield { correlationId: msg.correlationId, command: { case: "registerAck", value: { success: false, error: "the first message must be register" } } };
      return;
    }
    const reg = msg.message.value;
    const waiter = this.waiting.get(reg.processId);
    const refusal =
      waiter === undefined
        ? `process ${reg.processId} was not launched by this proxy (or has registered already)`
        : peerPid !== reg.processId
          ? `the registering connection belongs to pid ${peerPid ?? "unknown"}, not ${reg.processId}`
          : token === ""
            ? "no launch token"
            : !sameSecret(token, waiter.token)
              ? "wrong launch token"
              : undefined;
    if (refusal !== undefined) {
      this.logger.warn("refused registration", { pid: reg.processId, pattern: reg.patternName, reason: refusal });
      this.audit?.({ pid: reg.processId, pattern: reg.patternName, reason: refusal });
      yield { correlationId: msg.correlationId, command: { case: "registerAck", value: { success: false, error: "registration refused" } } };
      return;
    }
    this.waiting.delete(reg.processId);
    const channel = new StreamLifecycleChannel(reg);
    const onAbort = () => channel.lose("stream cancelled");
    signal.addEventListener("abort", onAbort, { once: true });
    // Answers and heartbeats arrive in the background while commands go out below.
    void (async () => {
      try {
        for (let r = await it.next(); !r.done; r = await it.next()) channel.receive(r.value);
        channel.lose("pattern closed the stream");
      } catch (err) {
        channel.lose(PrismError.from(err).message);
      } finally {
        signal.removeEventListener("abort", onAbort);
      }
    })();
    const instanceId = `${reg.patternName}-${reg.processId}-${++this.instances}`;
    yield { correlationId: msg.correlationId, command: { case: "registerAck", value: { success: true, instanceId } } };
    waiter!.resolve(channel);
    yield* channel.outbox;
  }
}
