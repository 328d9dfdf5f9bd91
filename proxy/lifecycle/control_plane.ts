import type { PatternMessage, ProxyControlPlane } from "../../proto/gen/prism/interfaces/proxy_control_plane_pb";
import { Code, PrismError } from "../../sdk/grpc/errors";
import type { ServiceImpl } from "../../sdk/grpc/types";
import type { Logger } from "../../sdk/observability/logger";
import { StreamLifecycleChannel, type OutgoingCommand } from "./stream_channel";

interface Waiter {
  resolve(channel: StreamLifecycleChannel): void;
  reject(err: unknown): void;
}

/**
 * The proxy side of ProxyControlPlane.ManagePattern: a launched pattern dials in
 * and registers with its pid; the stream is handed to whoever launched that pid
 * (see expect). Registrations from processes the proxy did not launch are refused.
 */
export class ControlPlane {
  private readonly waiting = new Map<number, Waiter>();
  private instances = 0;

  constructor(private readonly logger: Logger) {}

  /** Waits for process `pid` to register; cancel() stops waiting (e.g. the process exited first). */
  expect(pid: number): { channel: Promise<StreamLifecycleChannel>; cancel(reason: string): void } {
    let waiter!: Waiter;
    const channel = new Promise<StreamLifecycleChannel>((resolve, reject) => (waiter = { resolve, reject }));
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
    managePattern: (messages, ctx) => this.session(messages, ctx.signal),
  };

  private async *session(messages: AsyncIterable<PatternMessage>, signal: AbortSignal): AsyncIterable<OutgoingCommand> {
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
    if (waiter === undefined) {
      this.logger.warn("refused registration from a process this proxy did not launch", { pid: reg.processId, pattern: reg.patternName });
      yield {
        correlationId: msg.correlationId,
        command: { case: "registerAck", value: { success: false, error: `process ${reg.processId} was not launched by this proxy` } },
      };
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
    waiter.resolve(channel);
    yield* channel.outbox;
  }
}
