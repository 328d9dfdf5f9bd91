import { closeSync, readSync } from "node:fs";
import { HealthStatus } from "../../proto/gen/prism/interfaces/lifecycle_pb";
import { ProxyControlPlane, type ProxyCommand } from "../../proto/gen/prism/interfaces/proxy_control_plane_pb";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { PatternMessageSchema } from "../../proto/gen/prism/interfaces/proxy_control_plane_pb";
import { createClient } from "../grpc/client";
import type { Logger } from "../observability/logger";
import { lifecycleHandlers } from "./lifecycle_service";
import type { PatternRuntime } from "./runtime";

type Outgoing = MessageInitShape<typeof PatternMessageSchema>;

/** The environment variable naming the inherited file descriptor a launching proxy writes its one-time secret to. */
export const LAUNCH_TOKEN_FD_ENV = "PRISM_LAUNCH_TOKEN_FD";
/** The descriptor the proxy hands the secret over on (the first after stdin, stdout, stderr). */
export const LAUNCH_TOKEN_FD = 3;
/** A secret in the environment, as other launchers may pass it (the environment stays readable in /proc: avoid). */
export const LAUNCH_TOKEN_ENV = "PRISM_LAUNCH_TOKEN";
/** The metadata the pattern presents it in when it registers. */
export const LAUNCH_TOKEN_HEADER = "x-prism-launch-token";

/** Everything written to `fd` until its writer closes it; then closes it here too. */
function readToEnd(fd: number): string {
  const chunks: Buffer[] = [];
  const buf = Buffer.alloc(256);
  try {
    for (let n = readSync(fd, buf); n > 0; n = readSync(fd, buf)) chunks.push(Buffer.from(buf.subarray(0, n)));
  } finally {
    closeSync(fd);
  }
  return Buffer.concat(chunks).toString("utf8");
}

/**
 * Reads the launch secret once — from the descriptor PRISM_LAUNCH_TOKEN_FD names, else PRISM_LAUNCH_TOKEN — and
 * forgets where it came from: the descriptor is closed (nothing can read it through /proc/<pid>/fd afterwards)
 * and both variables leave this process's environment (its children never inherit them).
 */
export function takeLaunchToken(env: Record<string, string | undefined> = process.env): string | undefined {
  const fd = env[LAUNCH_TOKEN_FD_ENV];
  let token = env[LAUNCH_TOKEN_ENV];
  delete env[LAUNCH_TOKEN_FD_ENV];
  delete env[LAUNCH_TOKEN_ENV];
  if (fd !== undefined && /^\d+$/.test(fd)) {
    try {
      token = readToEnd(Number(fd));
    } catch {
      // Not open (not launched by a proxy after all): without a secret the proxy refuses the registration, and says so.
      token = undefined;
    }
  }
  return token === "" ? undefined : token;
}

/** Heartbeats tell the proxy the pattern is alive between health checks. */
const HEARTBEAT_MS = 5_000;

/**
 * Dials the proxy's ProxyControlPlane, registers, and obeys the lifecycle commands
 * sent down the stream. When the stream is lost (the proxy died), calls onLost so
 * the pattern exits rather than live on as an orphan.
 */
export async function runControlPlane(
  proxyAddr: string,
  rt: PatternRuntime,
  logger: Logger,
  onShutdown: (reason: string) => void,
  launchToken?: string,
): Promise<void> {
  const handle = createClient(ProxyControlPlane, proxyAddr);
  const outbox: Outgoing[] = [];
  let wake: (() => void) | undefined;
  let closed = false;
  const send = (m: Outgoing) => {
    outbox.push(m);
    wake?.();
  };
  async function* outgoing(): AsyncIterable<Outgoing> {
    while (!closed) {
      while (outbox.length > 0) yield outbox.shift()!;
      await new Promise<void>((r) => (wake = r));
      wake = undefined;
    }
  }
  const handlers = lifecycleHandlers(rt, onShutdown);
  send({
    correlationId: "register",
    message: {
      case: "register",
      value: { patternName: rt.def.name, patternVersion: rt.def.version, processId: process.pid, metadata: rt.patternMetadata() },
    },
  });
  // A liveness signal only: the proxy asks for full health (which may touch the backend) itself.
  const heartbeat = setInterval(() => {
    const status = rt.serving ? HealthStatus.HEALTHY : HealthStatus.UNHEALTHY;
    send({ correlationId: "", message: { case: "heartbeat", value: { timestamp: BigInt(Date.now()), status } } });
  }, HEARTBEAT_MS);
  heartbeat.unref?.();

  const answer = async (cmd: ProxyCommand): Promise<Outgoing | undefined> => {
    const id = cmd.correlationId;
    const c = cmd.command;
    switch (c.case) {
      case "registerAck":
        if (!c.value.success) throw new Error(`proxy refused registration: ${c.value.error}`);
        logger.info("registered with proxy", { instance_id: c.value.instanceId });
        return undefined;
      case "initialize":
        return { correlationId: id, message: { case: "initializeResponse", value: await handlers.initialize(c.value) } };
      case "start":
        return { correlationId: id, message: { case: "startResponse", value: handlers.start() } };
      case "healthCheck":
        return { correlationId: id, message: { case: "healthResponse", value: await handlers.healthCheck() } };
      case "drain":
        return { correlationId: id, message: { case: "drainResponse", value: await handlers.drain(c.value) } };
      case "stop":
        return { correlationId: id, message: { case: "stopResponse", value: await handlers.stop(c.value) } };
      case "shutdown":
        onShutdown(`proxy shutdown: ${c.value.reason}`);
        return undefined;
      default:
        return undefined;
    }
  };

  try {
    const metadata = launchToken ? { [LAUNCH_TOKEN_HEADER]: launchToken } : undefined;
    for await (const cmd of handle.client.managePattern(outgoing(), { metadata })) {
      answer(cmd).then(
        (reply) => reply && send(reply),
        (err) => logger.error("control command failed", { err }),
      );
    }
    logger.warn("proxy closed the control stream");
  } catch (err) {
    logger.warn("control stream to proxy lost", { err });
  } finally {
    closed = true;
    wake?.();
    clearInterval(heartbeat);
    handle.close();
  }
  onShutdown("control stream lost");
}
