/**
 * Prism's images run by a real Docker engine through testcontainers, for the container suites (make test-images).
 * Containers use the host's network (`--network host`): the engine `make docker-engine` starts has no bridge,
 * and the patterns reach the shared backends (tests/helpers/services.ts) on loopback as the other suites do.
 * The resource reaper (Ryuk) is off: its image cannot be pulled here; every container is stopped in afterAll.
 */
import { GenericContainer, type StartedTestContainer, Wait } from "testcontainers";
import { freePort } from "../memstore/helpers";
import { prismImage } from "../helpers/services";

// Read by testcontainers when it first talks to the engine; set before any container starts.
process.env.TESTCONTAINERS_RYUK_DISABLED ??= "true";
// The engine's host is this host (--network host); without this testcontainers looks for a bridge gateway.
process.env.TESTCONTAINERS_HOST_OVERRIDE ??= "127.0.0.1";

/** A Prism executable running as its image. */
export interface PrismContainer {
  readonly name: string;
  readonly container: StartedTestContainer;
  /** host:port of its gRPC endpoint (loopback: host network). */
  readonly address: string;
  /** http://127.0.0.1:<port> of /health /ready /metrics. */
  readonly http: string;
}

const STARTUP_TIMEOUT_MS = 60_000;

/** A pattern image (memstore, redis, ...) serving directly, with an optional config file copied in. */
export async function startPatternContainer(name: string, config?: Record<string, unknown>): Promise<PrismContainer> {
  const [grpcPort, httpPort] = [await freePort(), await freePort()];
  let c = new GenericContainer(prismImage(name))
    .withNetworkMode("host")
    .withEnvironment({ PRISM_GRPC_HOST: "127.0.0.1", PRISM_GRPC_PORT: String(grpcPort), PRISM_METRICS_PORT: String(httpPort) })
    .withWaitStrategy(Wait.forLogMessage(/grpc listening on/))
    .withStartupTimeout(STARTUP_TIMEOUT_MS);
  if (config) {
    c = c
      .withCopyContentToContainer([{ content: JSON.stringify(config), target: "/etc/prism/pattern.yaml" }])
      .withCommand(["--config", "/etc/prism/pattern.yaml"]);
  }
  const container = await c.start();
  return { name, container, address: `127.0.0.1:${grpcPort}`, http: `http://127.0.0.1:${httpPort}` };
}

/** The proxy image with `namespaces` (remote patterns: `address:`), its config copied in as a file. */
export async function startProxyContainer(namespaces: Array<Record<string, unknown>>): Promise<PrismContainer> {
  const [port, adminPort] = [await freePort(), await freePort()];
  const config = { namespaces };
  // The image sets PRISM_LISTEN and PRISM_ADMIN_PORT (environment wins over the file): free ports go there.
  const container = await new GenericContainer(prismImage("proxy"))
    .withNetworkMode("host")
    .withEnvironment({ PRISM_LISTEN: `127.0.0.1:${port}`, PRISM_ADMIN_PORT: String(adminPort) })
    .withCopyContentToContainer([{ content: JSON.stringify(config), target: "/etc/prism/proxy.yaml" }])
    .withCommand(["--config", "/etc/prism/proxy.yaml"])
    .withWaitStrategy(Wait.forLogMessage(/prism proxy listening on/))
    .withStartupTimeout(STARTUP_TIMEOUT_MS)
    .start();
  return { name: "proxy", container, address: `127.0.0.1:${port}`, http: `http://127.0.0.1:${adminPort}` };
}

/** `docker` CLI output (the engine's own view: exit code, user, pid), failing on a non-zero exit. */
export async function docker(...args: string[]): Promise<string> {
  const p = Bun.spawn(["docker", ...args], { stdout: "pipe", stderr: "pipe" });
  const [code, out, err] = await Promise.all([p.exited, new Response(p.stdout).text(), new Response(p.stderr).text()]);
  if (code !== 0) throw new Error(`docker ${args.join(" ")} exited ${code}: ${err.trim()}`);
  return out.trim();
}

/** The effective uid of a running container's main process, as the host kernel sees it. */
export async function processUid(c: PrismContainer): Promise<number> {
  const pid = Number(await docker("inspect", "-f", "{{.State.Pid}}", c.container.getId()));
  const status = await Bun.file(`/proc/${pid}/status`).text();
  return Number(/^Uid:\s+\d+\s+(\d+)/m.exec(status)![1]);
}

/** `docker stop` (SIGTERM, then SIGKILL after `graceS`), then the exit code the engine recorded; removes the container. */
export async function stopAndExitCode(c: PrismContainer, graceS = 30): Promise<number> {
  const id = c.container.getId();
  await c.container.stop({ remove: false, timeout: graceS * 1000 });
  try {
    return Number(await docker("inspect", "-f", "{{.State.ExitCode}}", id));
  } finally {
    await docker("rm", "-f", id).catch(() => undefined);
  }
}
